"""The dispatcher's loop: woken by NOTIFY, polling when it cannot LISTEN, and one receiver that
hangs does not hold up the others."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable

import pytest
from webhook_receiver import Received, Receiver
from webhook_support import AppFactory, Running

from modelyard.db.pool import open_pool
from modelyard.webhooks.dispatcher import Dispatcher
from pool_support import pooled

pytestmark = pytest.mark.anyio

# Longer than any test here waits: a delivery that arrives came from a NOTIFY, not a poll.
NEVER = 3600.0


async def wait_listening(running: Running, timeout: float = 30.0) -> None:
    """Until the dispatcher's listener connection has run its LISTEN."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query = 'LISTEN modelyard_webhooks'"
            )
            row = await cur.fetchone()
        if row is not None and row[0] >= 1:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the dispatcher never listened")


async def test_notify_wakes_the_dispatcher(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    async with make_app(webhook_poll_interval=NEVER) as running:
        await running.create_webhook(receiver.url, ["registered_model.created"])
        await wait_listening(running)
        for i in range(3):
            await running.store.registry.create_model(f"m{i}")
            got = await asyncio.to_thread(receiver.wait_for, i + 1)
            assert got[i].json["data"]["name"] == f"m{i}"


async def test_without_listen_it_polls(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    """The listener's connection cannot be made (as behind a pooler that cannot LISTEN):
    deliveries still go out, at the polling interval."""
    receiver = receivers()
    async with make_app(webhook_dispatcher=False) as running:
        await running.create_webhook(receiver.url, ["registered_model.created"])
        settings = dataclasses.replace(running.app.state.settings, webhook_poll_interval=0.2)
        conninfo = running.app.state.conninfo
        pool = await open_pool(conninfo, settings.schema, min_size=1, max_size=2)
        # Port 1 on loopback: nothing listens there, so LISTEN never happens.
        dispatcher = Dispatcher(
            pool, running.app.state.webhooks, "postgresql://127.0.0.1:1/nothing", settings
        )
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        try:
            for i in range(3):
                await running.store.registry.create_model(f"m{i}")
                await asyncio.to_thread(receiver.wait_for, i + 1)
        finally:
            stop.set()
            await task
            await pool.close()
    assert [r.json["data"]["name"] for r in receiver.received] == ["m0", "m1", "m2"]


async def test_a_hanging_receiver_does_not_stall_the_others(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    """The hanging receiver holds its first request for longer than the test; meanwhile every
    event reaches the healthy receivers, in order, with only two delivery slots in all."""
    gate = threading.Event()

    def hang(n: int, r: Received) -> tuple[int, dict[str, str], bytes]:
        gate.wait(60)
        return 200, {}, b""

    stuck = receivers(responder=hang)
    healthy = [receivers() for _ in range(3)]
    count = 10
    async with make_app(webhook_timeout=60.0, webhook_concurrency=2) as running:
        await running.create_webhook(stuck.url, ["registered_model.created"])
        for receiver in healthy:
            await running.create_webhook(receiver.url, ["registered_model.created"])
        try:
            for i in range(count):
                await running.store.registry.create_model(f"m{i}")
            for receiver in healthy:
                got = await asyncio.to_thread(receiver.wait_for, count)
                assert [r.json["data"]["name"] for r in got] == [f"m{i}" for i in range(count)]
            assert not gate.is_set() and len(stuck.received) == 1  # still hanging on the first
        finally:
            gate.set()  # lets the stuck attempt finish so the app stops promptly
        await asyncio.to_thread(stuck.wait_for, 2)  # and its queue moves on after it


async def test_every_claimed_delivery_is_attempted_at_once(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    """One slot: each claim fills it, and the claimed delivery goes out now, on its first
    attempt (not after its lease runs out)."""
    hooks = [receivers() for _ in range(3)]
    async with make_app(webhook_concurrency=1, webhook_timeout=30.0) as running:
        for hook in hooks:
            await running.create_webhook(hook.url, ["registered_model.created"])
        for i in range(3):
            await running.store.registry.create_model(f"m{i}")
        for hook in hooks:
            await asyncio.to_thread(hook.wait_for, 3)
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT DISTINCT attempts FROM webhook_delivery")
            assert await cur.fetchall() == [(1,)]
