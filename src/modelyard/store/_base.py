"""The base of the store's repositories: a pool, transactions, and error translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from modelyard.db.errors import translate

Pool = AsyncConnectionPool[AsyncConnection[tuple[object, ...]]]
Conn = AsyncConnection[tuple[object, ...]]


class Repository:
    """One resource's data access; subclasses hold only SQL calls and validation."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction: committed on success, else rolled back.

        Driver errors leave as modelyard errors, so callers never see psycopg exceptions.
        """
        try:
            async with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Conn]:
        """A pooled connection in autocommit mode, for a read that is one statement (or a
        write that is one statement: the webhook dispatcher's claim and record).

        One statement sees one snapshot and is atomic by itself, so the BEGIN and COMMIT that
        :meth:`transaction` adds would be two more round trips for nothing; on the hot
        lookups (alias resolution) they were half the database time of a request.
        """
        try:
            async with self._pool.connection() as conn:
                await conn.set_autocommit(True)
                try:
                    yield conn
                finally:
                    # A broken connection (not idle) is discarded by the pool as it is returned.
                    if conn.info.transaction_status == TransactionStatus.IDLE:
                        await conn.set_autocommit(False)
        except psycopg.Error as exc:
            raise translate(exc) from exc
