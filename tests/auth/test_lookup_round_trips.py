"""The token lookup the guard makes on every authenticated request: one round trip to the
database, no transaction, no write; and, having no cache, it sees a revocation or a change of
role made since the previous request.

Round trips are counted from libpq's protocol trace of the pool's one connection: every run of
messages the client sends after the server last answered is one wait for the server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from psycopg import pq
from starlette.datastructures import Headers

from modelyard.auth import admin
from modelyard.auth.access import Access, Role
from modelyard.auth.credentials import Identities, authorize
from modelyard.db.conninfo import DEFAULT_SCHEMA, for_pool, search_path
from modelyard.db.pool import SchemaPool
from modelyard.errors import PermissionDenied, Unauthenticated

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(runtime_url: str) -> AsyncIterator[SchemaPool]:
    # One connection, so the traced one is the one every lookup takes; no idle check, whose
    # ping would be a round trip of the pool's and not of the lookup.
    opened = SchemaPool(
        for_pool(runtime_url),
        search_path=search_path(DEFAULT_SCHEMA),
        min_size=1,
        max_size=1,
        open=False,
    )
    await opened.open(wait=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def tokens(database_url: str) -> dict[str, str]:
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.create_user(conn, "rita", admin=False, service=False)
        admin.add_member(conn, "default", "rita", Role.READER)
        made = admin.create_token(conn, "rita", workspace=None, expires_in=dt.timedelta(days=1))
    return {"token": made["token"], "token_id": made["token_id"]}


@asynccontextmanager
async def traced(pool: SchemaPool, path: Path) -> AsyncIterator[Path]:
    """libpq's protocol trace of the pool's connection for the block, written to ``path``."""
    with path.open("w") as out:
        async with pool.connection() as conn:
            pgconn = conn.pgconn
            pgconn.trace(out.fileno())
            pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            yield path
        finally:
            pgconn.untrace()  # which flushes libpq's stream


def round_trips(trace: str) -> int:
    count = 0
    sending = False
    for line in trace.splitlines():
        direction = line.split("\t", 1)[0]
        if direction == "F" and not sending:
            count += 1
            sending = True
        elif direction == "B":
            sending = False
    return count


def test_round_trips_are_counted_from_the_trace() -> None:
    two = "F\t4\tFlush\nB\t5\tDataRow\nF\t4\tSync\nB\t5\tReadyForQuery\t I\n"
    one = "F\t9\tExecute\nF\t4\tSync\nF\t4\tFlush\nB\t5\tReadyForQuery\t I\n"
    assert (round_trips(two), round_trips(one)) == (2, 1)


async def test_an_authenticated_request_looks_its_token_up_in_one_round_trip(
    pool: SchemaPool, tokens: dict[str, str], tmp_path: Path
) -> None:
    identities = Identities(pool)
    headers = Headers({"authorization": f"Bearer {tokens['token']}"})
    for attempt in range(7):  # past psycopg's prepare threshold (5): prepared or not, one
        async with traced(pool, tmp_path / f"{attempt}.log") as path:
            who = await identities.caller(headers)
        trace = path.read_text()
        assert who.user == "rita" and who.role is Role.READER
        assert round_trips(trace) == 1, trace
        # No transaction of its own and nothing written: a read stays a read.
        for word in ("BEGIN", "COMMIT", "INSERT", "UPDATE"):
            assert word not in trace


async def test_a_workspace_named_with_auth_off_is_found_in_one_round_trip(
    pool: SchemaPool, database_url: str, tmp_path: Path
) -> None:
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.create_workspace(conn, "team")
    async with traced(pool, tmp_path / "trace.log") as path:
        who = await Identities(pool).anonymous(Headers({"x-modelyard-workspace": "team"}))
    assert who.workspace == "team" and who.workspace_id != 1
    assert round_trips(path.read_text()) == 1


async def test_a_change_made_between_two_requests_holds_on_the_second(
    pool: SchemaPool, tokens: dict[str, str], database_url: str
) -> None:
    identities = Identities(pool)
    headers = Headers({"authorization": f"Bearer {tokens['token']}"})
    assert (await identities.caller(headers)).role is Role.READER
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.add_member(conn, "default", "rita", Role.EDITOR)
    assert (await identities.caller(headers)).role is Role.EDITOR
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.remove_member(conn, "default", "rita")
    assert (await identities.caller(headers)).role is None
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.revoke_token(conn, tokens["token_id"])
    with pytest.raises(Unauthenticated, match="revoked"):
        await identities.caller(headers)


async def test_a_workspace_the_token_may_not_enter_is_refused_in_one_round_trip(
    pool: SchemaPool, tokens: dict[str, str], database_url: str, tmp_path: Path
) -> None:
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.create_workspace(conn, "other")
    headers = Headers(
        {"authorization": f"Bearer {tokens['token']}", "x-modelyard-workspace": "other"}
    )
    async with traced(pool, tmp_path / "trace.log") as path:
        who = await Identities(pool).caller(headers)
    assert round_trips(path.read_text()) == 1
    assert who.workspace == "other" and who.role is None  # not a member there
    with pytest.raises(PermissionDenied):
        authorize(who, Access.READ)
