"""The async connection pool the store and the server share, and the search path it serves."""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from modelyard.db.conninfo import for_pool, search_path

Conn = AsyncConnection[tuple[object, ...]]
ConnCallback = Callable[[Conn], Awaitable[None]]

# A connection back in the pool for less than this long was working moments ago; checking it
# again would add a round trip to every request (measured: the check, BEGIN and COMMIT were
# three of the four round trips of an alias lookup, bench/README.md).
CHECK_AFTER_IDLE_SECONDS = 2.0


def _idle_check() -> tuple[ConnCallback, ConnCallback]:
    """The pool's ``check`` and ``reset`` callbacks: ping only connections idle for a while."""
    returned_at: weakref.WeakKeyDictionary[Conn, float] = weakref.WeakKeyDictionary()

    async def check(conn: Conn) -> None:
        idle = time.monotonic() - returned_at.get(conn, float("-inf"))
        if idle > CHECK_AFTER_IDLE_SECONDS:
            await AsyncConnectionPool.check_connection(conn)

    async def reset(conn: Conn) -> None:
        returned_at[conn] = time.monotonic()

    return check, reset


class SchemaPool(AsyncConnectionPool[Conn]):
    """A pool whose connections serve one modelyard schema.

    The connections carry no session state of ours, not even the search path: every
    transaction on them starts by setting ``search_path`` (and the request's scope) locally
    (``store/_base.py``), so the pool works unchanged behind PgBouncer in transaction mode, where
    consecutive transactions of one client connection run on different server sessions.
    """

    def __init__(self, conninfo: str, *, search_path: str, **kwargs: Any) -> None:
        super().__init__(conninfo, **kwargs)
        self.search_path = search_path


async def open_pool(
    conninfo: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = 30.0,
    prepared_statements: bool = True,
) -> SchemaPool:
    """An opened pool whose transactions use ``schema``; the caller closes it.

    ``prepared_statements=False`` stops psycopg from preparing frequent queries server-side,
    for poolers that cannot carry prepared statements between sessions (PgBouncer in
    transaction mode before 1.21, or without ``max_prepared_statements``).
    """
    check, reset = _idle_check()
    pool = SchemaPool(
        for_pool(conninfo),
        search_path=search_path(schema),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        # A connection broken while idle (server restart) is replaced instead of failing a
        # request; see CHECK_AFTER_IDLE_SECONDS for why a busy one is not checked.
        check=check,
        reset=reset,
        name="modelyard",
        kwargs={} if prepared_statements else {"prepare_threshold": None},
    )
    await pool.open(wait=True, timeout=timeout)
    return pool
