"""The pool's health check: idle connections are pinged (and replaced if dead), busy ones not."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from modelyard.db import pool as pool_module
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.db.pool import open_pool
from pool_support import pooled

Pool = AsyncConnectionPool[AsyncConnection[tuple[object, ...]]]


@pytest.fixture
async def one_connection_pool(runtime_url: str) -> AsyncIterator[Pool]:
    pool = await open_pool(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=1)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the pings the pool sends (the real check still runs)."""
    calls: list[int] = []
    real = AsyncConnectionPool.check_connection

    async def counting(conn: AsyncConnection[tuple[object, ...]]) -> None:
        calls.append(1)
        await real(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counting))
    return calls


async def _backend_pid(pool: Pool) -> int:
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        assert row is not None
        return int(str(row[0]))


@pytest.mark.anyio
async def test_recently_returned_connection_is_not_pinged(
    one_connection_pool: Pool, checks: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module, "CHECK_AFTER_IDLE_SECONDS", 3600.0)
    first = await _backend_pid(one_connection_pool)
    before = len(checks)
    for _ in range(5):
        assert await _backend_pid(one_connection_pool) == first
    assert len(checks) == before


@pytest.mark.anyio
async def test_idle_connection_is_pinged_and_a_dead_one_replaced(
    one_connection_pool: Pool,
    checks: list[int],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    first = await _backend_pid(one_connection_pool)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first])
    monkeypatch.setattr(pool_module, "CHECK_AFTER_IDLE_SECONDS", 0.0)
    before = len(checks)
    # The dead connection fails its ping and is replaced; the request itself succeeds.
    second = await _backend_pid(one_connection_pool)
    assert second != first
    assert len(checks) > before


@pytest.mark.anyio
@pytest.mark.parametrize("prepared", [True, False])
async def test_prepared_statements_can_be_turned_off(database_url: str, prepared: bool) -> None:
    pool = await open_pool(
        database_url, DEFAULT_SCHEMA, min_size=1, max_size=1, prepared_statements=prepared
    )
    try:
        async with pooled(pool) as conn:
            for _ in range(10):  # psycopg prepares a query after 5 executions by default
                await conn.execute("SELECT count(*) FROM experiment WHERE experiment_id = %s", [1])
            cur = await conn.execute("SELECT count(*) FROM pg_prepared_statements")
            row = await cur.fetchone()
        assert row is not None
        assert (row[0] > 0) is prepared
    finally:
        await pool.close()
