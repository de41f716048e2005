"""The base of the store's repositories: a pool, scoped transactions, and error translation.

Every transaction a repository opens starts with the schema's ``search_path`` and the request's
scope: ``set_config(..., true)`` of ``search_path``, ``modelyard.workspace``, ``modelyard.actor``
and ``modelyard.request_id``, sent in the same round trip as the ``BEGIN`` (a pipeline), from the
caller the server's guard put in the request's context. Nothing is left on the session, so the
pool works behind PgBouncer in transaction mode; every use of a pooled connection goes through
:meth:`Repository.transaction` or :meth:`Repository.read` (``tests/db/test_pooled_sessions.py``
checks that no other code takes one). Row-level security, the ``workspace_id`` column defaults
and the event triggers read the scope there, so no handler passes a workspace by hand. Code that
runs outside a request (the CLI's tools, tests, benchmarks) acts in the workspace the repository
was made with, ``default`` unless told.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

from modelyard.auth import caller
from modelyard.db.errors import translate
from modelyard.db.pool import SchemaPool
from modelyard.sql import query

Pool = SchemaPool
Conn = AsyncConnection[tuple[object, ...]]


class Repository:
    """One resource's data access; subclasses hold only SQL calls and validation."""

    # The workspace of calls made outside a request; subclasses may be given another.
    _outside_workspace_id: int = caller.DEFAULT_WORKSPACE_ID

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    @property
    def workspace_id(self) -> int:
        """The workspace this call acts in: the request's, else the repository's own."""
        who = caller.current()
        return who.workspace_id if who is not None else self._outside_workspace_id

    def _scope(self) -> dict[str, str]:
        who = caller.current()
        return {
            "search_path": self._pool.search_path,
            "workspace": str(self.workspace_id),
            "actor": (who.user or "") if who else "",
            "request_id": (who.request_id or "") if who else "",
        }

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[Conn]:
        """A pooled connection inside one scoped transaction: committed on success, else rolled
        back. ``snapshot``: repeatable read and read only, for reads of several statements that
        must see one state of the data.

        Driver errors leave as modelyard errors, so callers never see psycopg exceptions.
        """
        try:
            async with self._pool.connection() as conn:
                # The pipeline sends BEGIN and the scope together: one round trip, not two.
                async with conn.pipeline():
                    if snapshot:
                        await conn.execute(query("scope.snapshot"))
                    await conn.execute(query("scope.enter"), self._scope())
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @asynccontextmanager
    async def read(self, *, timeout: float | None = None) -> AsyncIterator[Conn]:
        """A pooled connection for a read that is one statement (or a write that is one
        statement: the webhook dispatcher's claim and record), without BEGIN and COMMIT.

        In autocommit mode, the statements of one pipeline run as one implicit transaction that
        ends at the pipeline's sync, so the scope set first holds for the statements of the
        block and ends with it. BEGIN and COMMIT would be two more round trips for nothing; on
        the hot lookups (alias resolution) they were half the database time of a request.
        ``timeout``: seconds to wait for a connection, instead of the pool's own.
        """
        try:
            async with self._pool.connection(timeout=timeout) as conn:
                await conn.set_autocommit(True)
                try:
                    async with conn.pipeline():
                        await conn.execute(query("scope.enter"), self._scope())
                        yield conn
                finally:
                    # A broken connection (not idle) is discarded by the pool as it is returned.
                    if conn.info.transaction_status == TransactionStatus.IDLE:
                        await conn.set_autocommit(False)
        except psycopg.Error as exc:
            raise translate(exc) from exc
