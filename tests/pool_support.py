"""Raw SQL in tests: a pooled connection with the schema on its search path.

The store's pooled connections carry no search path of their own (every transaction the store
opens sets it, ``store/_base.py``), so a test that reads or writes tables directly takes its
connection here rather than from ``pool.connection()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from modelyard.db.pool import SchemaPool
from modelyard.store._base import Conn


@asynccontextmanager
async def pooled(pool: SchemaPool, *, autocommit: bool = False) -> AsyncIterator[Conn]:
    """A connection of ``pool`` whose statements find the schema's tables.

    By default the block is one transaction (committed at its end) and the path is set for it
    alone. ``autocommit``: every statement commits on its own, so the path is set on the session
    and reset as the block ends, leaving the connection as the pool gave it.
    """
    async with pool.connection() as conn:
        if not autocommit:
            await conn.execute("SELECT set_config('search_path', %s, true)", [pool.search_path])
            yield conn
            return
        await conn.set_autocommit(True)
        await conn.execute("SELECT set_config('search_path', %s, false)", [pool.search_path])
        try:
            yield conn
        finally:
            await conn.execute("RESET search_path")
            await conn.set_autocommit(False)
