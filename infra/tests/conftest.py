"""Fixtures for the infra tests: each test owns its event loop and executor, closed afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest


def _close_thread_loop() -> None:
    # The mock monitor runs in executor threads and gives each one an event loop that Pulumi
    # never closes; left alone they surface as "unclosed event loop" ResourceWarnings.
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:  # this worker never got a loop
        return
    loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def pulumi_event_loop() -> Iterator[None]:
    loop = asyncio.new_event_loop()
    # One worker, so that teardown can reach (and close) every loop the mocks created.
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pulumi-mocks")
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        # A program that raised leaves registrations pending; cancel them rather than let the
        # closed loop report "Task was destroyed but it is pending".
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        executor.submit(_close_thread_loop).result()
        executor.shutdown(wait=True)
        asyncio.set_event_loop(None)
        loop.close()
