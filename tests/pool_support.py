"""Raw SQL in tests: a pooled connection with the schema on its search path.

The store's pooled connections carry no search path of their own (every transaction the store
opens sets it, ``store/_base.py``), so a test that reads or writes tables directly takes its
connection here rather than from ``pool.connection()``. The tenant tables have row-level
security, so the connection also carries a workspace scope (``modelyard.workspace``, what the
store's transactions set): ``default``'s unless told, none with ``workspace=None``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelyard.auth.caller import DEFAULT_WORKSPACE_ID
from modelyard.db.pool import SchemaPool
from modelyard.store._base import Conn

_SCOPE = (
    "SELECT set_config('search_path', %s, %s), set_config('modelyard.workspace', %s, %s)"
)


@asynccontextmanager
async def pooled(
    pool: SchemaPool, *, autocommit: bool = False, workspace: int | None = DEFAULT_WORKSPACE_ID
) -> AsyncIterator[Conn]:
    """A connection of ``pool`` whose statements find the schema's tables and see the rows of
    ``workspace`` (None: no scope, so no tenant rows at all).

    By default the block is one transaction (committed at its end) and the path is set for it
    alone. ``autocommit``: every statement commits on its own, so the path is set on the session
    and reset as the block ends, leaving the connection as the pool gave it.
    """
    scope = "" if workspace is None else str(workspace)
    async with pool.connection() as conn:
        if not autocommit:
            await conn.execute(_SCOPE, [pool.search_path, True, scope, True])
            yield conn
            return
        await conn.set_autocommit(True)
        await conn.execute(_SCOPE, [pool.search_path, False, scope, False])
        try:
            yield conn
        finally:
            await conn.execute("RESET search_path")
            await conn.execute("RESET modelyard.workspace")
            await conn.set_autocommit(False)
