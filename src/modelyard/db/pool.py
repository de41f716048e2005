"""The async connection pool the store and the server share."""

from __future__ import annotations

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from modelyard.db.conninfo import with_schema


async def open_pool(
    conninfo: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 30.0,
) -> AsyncConnectionPool[AsyncConnection[tuple[object, ...]]]:
    """An opened pool whose connections use ``schema``; the caller closes it."""
    pool: AsyncConnectionPool[AsyncConnection[tuple[object, ...]]] = AsyncConnectionPool(
        with_schema(conninfo, schema),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        # A connection broken while idle (server restart) is replaced instead of failing a request.
        check=AsyncConnectionPool.check_connection,
        name="modelyard",
    )
    await pool.open(wait=True, timeout=timeout)
    return pool
