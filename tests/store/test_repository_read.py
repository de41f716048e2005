"""``Repository.read()``: one autocommit statement, and the connection goes back transactional."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.db.pool import open_pool
from modelyard.errors import InvalidInput
from modelyard.store._base import Pool, Repository


@pytest.fixture
async def repo(runtime_url: str) -> AsyncIterator[Repository]:
    # One connection, so every block below gets the connection the previous one returned.
    pool: Pool = await open_pool(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=1)
    try:
        yield Repository(pool)
    finally:
        await pool.close()


async def _in_transaction(repo: Repository) -> bool:
    async with repo.transaction() as conn:
        row = await (await conn.execute("SELECT now() = statement_timestamp()")).fetchone()
        await conn.execute("SELECT pg_sleep(0.01)")
        later = await (await conn.execute("SELECT now() = statement_timestamp()")).fetchone()
        assert row is not None and later is not None
        # Inside a transaction now() stays at its start while statement_timestamp() moves on.
        return not conn.autocommit and later[0] is False


@pytest.mark.anyio
async def test_read_runs_without_a_transaction(repo: Repository) -> None:
    async with repo.read() as conn:
        assert conn.autocommit
        row = await (await conn.execute("SELECT pg_current_xact_id_if_assigned()")).fetchone()
        status = conn.info.transaction_status
    assert row == (None,)
    assert status.name == "IDLE"  # no BEGIN was sent
    assert await _in_transaction(repo)


@pytest.mark.anyio
async def test_failed_read_is_translated_and_leaves_a_usable_connection(repo: Repository) -> None:
    with pytest.raises(InvalidInput):
        async with repo.read() as conn:
            await conn.execute("SELECT 1 / 0")
    assert await _in_transaction(repo)
