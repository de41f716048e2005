"""The base of the store's repositories: a pool, scoped transactions, and error translation.

Every transaction a repository opens starts with the schema's ``search_path`` and the request's
scope: ``set_config(..., true)`` of ``search_path``, ``modelyard.workspace``, ``modelyard.actor``,
``modelyard.request_id``, ``modelyard.token_id`` and ``modelyard.client_addr``, sent in the same
round trip as the ``BEGIN`` (a pipeline), from the caller the server's guard put in the
request's context. Nothing is left on the session, so the pool works behind PgBouncer in
transaction mode; every use of a pooled connection goes through :meth:`Repository.transaction`
or :meth:`Repository.read` (``tests/db/test_pooled_sessions.py`` checks that no other code takes
one). Row-level security, the ``workspace_id`` column defaults, the event triggers and the audit
log read the scope there, so no handler passes a workspace by hand. Code that runs outside a
request (the CLI's tools, tests, benchmarks) acts in the workspace the repository was made with,
``default`` unless told.

:func:`joined` lets one transaction hold several repository calls: an idempotent write
(``store/idempotency.py``) claims its receipt, then the handler's store call runs in that same
transaction, so the receipt and the effect commit together or not at all.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from modelyard.auth import caller
from modelyard.db.errors import translate
from modelyard.db.pool import SchemaPool
from modelyard.sql import query

Pool = SchemaPool
Conn = AsyncConnection[tuple[object, ...]]

# The transaction the current task's repository calls join instead of opening their own.
_joined: contextvars.ContextVar[Conn | None] = contextvars.ContextVar(
    "modelyard_joined_transaction", default=None
)


@contextmanager
def joined(conn: Conn) -> Iterator[None]:
    """Within the block, every repository call of this task runs in ``conn``'s open
    transaction (no BEGIN, no COMMIT of its own); the owner of ``conn`` commits."""
    token = _joined.set(conn)
    try:
        yield
    finally:
        _joined.reset(token)


@asynccontextmanager
async def _join(conn: Conn) -> AsyncIterator[Conn]:
    try:
        yield conn
    except psycopg.Error as exc:
        raise translate(exc) from exc


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
            "token_id": (who.token_id or "") if who else "",
            "client_addr": (who.client_addr or "") if who else "",
        }

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[Conn]:
        """A pooled connection inside one scoped transaction: committed on success, else rolled
        back. ``snapshot``: repeatable read and read only, for reads of several statements that
        must see one state of the data.

        Driver errors leave as modelyard errors, so callers never see psycopg exceptions.
        Inside :func:`joined`, the block runs in the joined transaction instead (its scope was
        entered when it began; ``snapshot`` cannot apply mid-transaction and is not asked for
        by the writes that join).
        """
        held = _joined.get()
        if held is not None:
            async with _join(held) as conn:
                yield conn
            return
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
        A fetch inside the block costs a round trip of its own (a flush) before the closing
        sync's; :meth:`read_row` is the one-round-trip form for a single row.
        ``timeout``: seconds to wait for a connection, instead of the pool's own.
        Inside :func:`joined`, the statements run in the joined transaction.
        """
        held = _joined.get()
        if held is not None:
            async with _join(held) as conn:
                yield conn
            return
        try:
            async with self._autocommit(timeout) as conn, conn.pipeline():
                await conn.execute(query("scope.enter"), self._scope())
                yield conn
        except psycopg.Error as exc:
            raise translate(exc) from exc

    async def read_row(
        self, statement: str, params: Mapping[str, object]
    ) -> dict[str, Any] | None:
        """The first row of the one-statement read ``statement``, by column name (None: no
        row), in ONE round trip: the scope and the statement go out with the pipeline's sync,
        and the row comes back with its reply. The guard's token lookup, made on every
        authenticated request, is one (``tests/auth/test_lookup_round_trips.py``).

        Inside :func:`joined`, the statement runs in the joined transaction.
        """
        held = _joined.get()
        if held is not None:
            async with _join(held) as conn:
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(statement, params)
                return await cur.fetchone()
        try:
            async with self._autocommit(None) as conn:
                cur = conn.cursor(row_factory=dict_row)
                async with conn.pipeline():
                    await conn.execute(query("scope.enter"), self._scope())
                    await cur.execute(statement, params)
                # Fetched once the pipeline is closed, so its sync brought the row: a fetch
                # inside it would send a flush and wait for the row first, a second round trip.
                # Still inside the checkout: the cursor's connection is ours until the block ends.
                return await cur.fetchone()
        except psycopg.Error as exc:
            raise translate(exc) from exc

    @asynccontextmanager
    async def _autocommit(self, timeout: float | None) -> AsyncIterator[Conn]:
        """A pooled connection in autocommit mode, back in transaction mode as it returns."""
        async with self._pool.connection(timeout=timeout) as conn:
            await conn.set_autocommit(True)
            try:
                yield conn
            finally:
                # A broken connection (not idle) is discarded by the pool as it is returned.
                if conn.info.transaction_status == TransactionStatus.IDLE:
                    await conn.set_autocommit(False)
