"""Every transaction the store opens carries the request's scope, and only that transaction."""

from __future__ import annotations

import pytest

from modelyard.auth import caller
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.store import Store
from modelyard.store._base import Repository

pytestmark = pytest.mark.anyio

SETTINGS = (
    "SELECT current_setting('modelyard.workspace', true), current_setting('modelyard.actor', true)"
)


async def _seen(repo: Repository, *, read: bool) -> tuple[object, ...] | None:
    opener = repo.read() if read else repo.transaction()
    async with opener as conn:
        cur = await conn.execute(SETTINGS)
        first = await cur.fetchone()
        # A second statement of the block sees the same scope (one implicit transaction).
        cur = await conn.execute(SETTINGS)
        assert await cur.fetchone() == first
        return first


@pytest.mark.parametrize("read", [False, True], ids=["transaction", "read"])
async def test_one_connection_alternating_callers_carries_each_scope_alone(
    runtime_url: str, read: bool
) -> None:
    store = await Store.open(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=1)
    repo = store.experiments
    try:
        for workspace_id in (7, 8, 7, 8):
            who = caller.Caller(workspace_id=workspace_id, workspace=f"w{workspace_id}", user="u")
            token = caller.enter(who)
            try:
                assert await _seen(repo, read=read) == (str(workspace_id), "u")
            finally:
                caller.leave(token)
            # Nothing is left on the pooled connection for whoever takes it next.
            async with store.pool.connection() as conn:
                cur = await conn.execute(SETTINGS)
                assert await cur.fetchone() in (("", ""), (None, None))
        # Outside a request: the repository's own workspace (default), no actor.
        assert await _seen(repo, read=read) == ("1", "")
    finally:
        await store.close()
