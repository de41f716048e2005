"""``modelyard worker`` as a process: killed after the receiver's 2xx, before it records it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from webhook_receiver import Receiver
from webhook_support import AppFactory

from pool_support import pooled

pytestmark = pytest.mark.anyio


async def test_killed_after_the_2xx_is_redelivered_with_the_same_id(
    make_app: AppFactory, receivers: Callable[..., Receiver], database_url: str
) -> None:
    receiver = receivers(hang=threading.Event())
    async with make_app(webhook_dispatcher=False) as running:
        settings = running.app.state.settings
        await running.create_webhook(receiver.url, ["registered_model.created"])
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelyard",
                "--database-url",
                database_url,
                "worker",
                "--webhook-timeout",
                "4",
            ],
            # The receiver is on 127.0.0.1: allowed through the variable (the CLI test uses
            # the flag), so both spellings of the setting are exercised.
            env={
                **os.environ,
                "MODELYARD_WEBHOOK_SECRET_KEY": settings.webhook_secret_key,
                "MODELYARD_WEBHOOK_ALLOW_PRIVATE": "1",
            },
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            await running.store.registry.create_model("m")
            responded = await asyncio.to_thread(receiver.responded.wait, 60)
            assert responded, "the worker never delivered"
            worker.send_signal(signal.SIGKILL)  # 200 sent, the body not yet read: not recorded
            worker.wait(30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(30)
            if worker.stderr:
                worker.stderr.close()
        hang, receiver.hang = receiver.hang, None
        assert hang is not None
        hang.set()
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT attempts, state FROM webhook_delivery")
            assert await cur.fetchone() == (1, "pending")  # claimed once, nothing recorded
    # A dispatcher of the server takes over once the dead worker's lease runs out.
    async with make_app(webhook_timeout=1.0) as running:
        first, second = await asyncio.to_thread(receiver.wait_for, 2, 60)
        async with pooled(running.store.pool) as conn:
            for _ in range(600):
                cur = await conn.execute("SELECT attempts, state FROM webhook_delivery")
                row = await cur.fetchone()
                if row == (2, "delivered"):
                    break
                await asyncio.sleep(0.05)
            assert row == (2, "delivered")
    assert first.delivery_id == second.delivery_id
    assert first.body == second.body
