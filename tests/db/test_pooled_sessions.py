"""Pooled connections carry no session state of ours: each transaction sets its search path.

That is what lets the server run behind PgBouncer in transaction mode without settings made for
it: PgBouncer 1.18 refuses the ``options`` startup parameter, and hands consecutive transactions
of one client connection to different server sessions.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

import modelyard
from modelyard.db.conninfo import DEFAULT_SCHEMA, for_pool, search_path, with_schema
from modelyard.db.pool import SchemaPool, open_pool
from modelyard.store._base import Repository
from pooler_support import ROUTES, pooled_url, route_url

SOURCE = Path(modelyard.__file__).parent
# The only module that may take a connection from the pool: it sets the path and the scope.
TAKES_CONNECTIONS = {SOURCE / "store" / "_base.py"}
DEFAULT_PATH = '"$user", public'


@pytest.fixture(params=ROUTES)
async def pool(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[SchemaPool]:
    # As the superuser, whose role sets no search_path (the runtime role's does, as `db
    # bootstrap` makes it): what a transaction sees is then its own doing.
    url = route_url(request, str(request.param), database_url)
    opened = await open_pool(url, DEFAULT_SCHEMA, max_size=2, prepared_statements=False)
    try:
        yield opened
    finally:
        await opened.close()


async def _path(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> str:
    row = await (await conn.execute("SELECT current_setting('search_path')")).fetchone()
    assert row is not None
    return str(row[0])


def test_only_the_repository_base_takes_pooled_connections() -> None:
    takers = {
        path
        for path in SOURCE.rglob("*.py")
        if re.search(r"\.connection\(", path.read_text(encoding="utf-8"))
    }
    assert takers == TAKES_CONNECTIONS


def test_the_pool_sends_no_startup_options() -> None:
    url = "postgresql://u@db.example/ml_models?options=-c%20work_mem%3D64MB"
    assert psycopg.conninfo.conninfo_to_dict(for_pool(url))["options"] == "-c work_mem=64MB"
    assert "options" not in psycopg.conninfo.conninfo_to_dict(for_pool("dbname=x"))
    assert psycopg.conninfo.conninfo_to_dict(for_pool("dbname=x"))["application_name"] == (
        "modelyard"
    )


@pytest.mark.anyio
async def test_sessions_keep_the_default_path_and_every_transaction_sets_ours(
    pool: SchemaPool,
) -> None:
    repository = Repository(pool)
    async with repository.transaction() as conn:
        assert await _path(conn) == search_path(DEFAULT_SCHEMA)
    async with repository.read() as conn:
        assert await _path(conn) == search_path(DEFAULT_SCHEMA)
    async with repository.transaction(snapshot=True) as conn:
        assert await _path(conn) == search_path(DEFAULT_SCHEMA)
    # Nothing stays on the session after either kind of use.
    async with pool.connection() as conn:
        assert await _path(conn) == DEFAULT_PATH


@pytest.mark.anyio
async def test_pgbouncer_refuses_the_startup_options_the_pool_no_longer_sends(
    database_url: str, pgbouncer_port: int
) -> None:
    """The limitation this works around, against the real PgBouncer the tests start."""
    url = pooled_url(database_url, pgbouncer_port)
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        await psycopg.AsyncConnection.connect(with_schema(url, DEFAULT_SCHEMA))
    async with await psycopg.AsyncConnection.connect(for_pool(url)) as conn:
        assert await _path(conn) == DEFAULT_PATH

