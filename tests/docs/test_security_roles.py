"""The role setup that docs/deployment.md shows does what docs/security.md says, on real PostgreSQL.

The SQL is taken from the page itself, so the page and the behaviour cannot drift apart. Role
names are made unique per test (roles are global to a PostgreSQL server) and dropped afterwards.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import psycopg.errors
import pytest
from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, protect
from modelyard.bootstrap.runtime import check_serving_role
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_database, with_schema
from modelyard.db.migrate import upgrade
from modelyard.errors import PermissionDenied
from modelyard.server import create_app
from modelyard.settings import Settings

DEPLOYMENT = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)
NAMES = ("db_admin", "modelyard_app", "modelyard_readonly", "ml_models")


def documented_sql() -> str:
    """The role setup block of deployment.md (what `modelyard db bootstrap` amounts to)."""
    blocks = SQL_BLOCK.findall(DEPLOYMENT.read_text(encoding="utf-8"))
    wanted = [b for b in blocks if "CREATE ROLE" in b]
    assert len(wanted) == 1, "deployment.md lost its role setup"
    return str(wanted[0])


@dataclass(frozen=True)
class Roles:
    admin: str
    app: str
    readonly: str


def _as(url: str, user: str, password: str) -> str:
    return psycopg.conninfo.make_conninfo(url, user=user, password=password)


@pytest.fixture
def roles(pg_server: str) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:8]
    renamed = {name: f"{name}_{suffix}" for name in NAMES}
    password = secrets.token_urlsafe(16)
    script = re.sub(r"PASSWORD '\.\.\.'", f"PASSWORD '{password}'", documented_sql())
    for old, new in renamed.items():
        script = re.sub(rf"\b{old}\b", new, script)
    database = renamed["ml_models"]
    url = pg_server
    try:
        for line_block in re.split(r"^\\c \S+$", script, flags=re.MULTILINE):
            with psycopg.connect(url, autocommit=True) as conn:
                for statement in line_block.split(";"):
                    if statement.strip():
                        conn.execute(statement.encode())
            url = with_database(pg_server, database)
        app_url = with_database(pg_server, database)
        yield Roles(
            admin=_as(app_url, renamed["db_admin"], password),
            app=_as(app_url, renamed["modelyard_app"], password),
            readonly=_as(app_url, renamed["modelyard_readonly"], password),
        )
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            for key in ("modelyard_readonly", "modelyard_app", "db_admin"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(renamed[key])))


def _refused(conninfo: str, statement: str) -> None:
    with psycopg.connect(with_schema(conninfo, DEFAULT_SCHEMA)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement.encode())


def test_each_role_can_do_its_job_and_no_more(roles: Roles) -> None:
    upgrade(roles.admin, DEFAULT_SCHEMA)  # migrations run as the owner

    with psycopg.connect(with_schema(roles.app, DEFAULT_SCHEMA)) as conn:
        row = conn.execute(
            "INSERT INTO experiment (name) VALUES ('e') RETURNING experiment_id"
        ).fetchone()
        assert row is not None
        conn.execute("UPDATE experiment SET description = 'd' WHERE experiment_id = %s", row)
        # The metric store's per-session staging table needs TEMPORARY.
        conn.execute("CREATE TEMP TABLE staging (k text) ON COMMIT DELETE ROWS")
    for statement in (
        "CREATE TABLE ml_model_schema.extra (id integer)",
        "ALTER TABLE experiment DROP CONSTRAINT experiment_name_uq",
        "DROP TABLE run_tag",
        "TRUNCATE experiment CASCADE",
        "CREATE INDEX ON experiment (description)",
    ):
        _refused(roles.app, statement)
    with pytest.raises(PermissionDenied) as refused:
        upgrade(roles.app, DEFAULT_SCHEMA)
    assert isinstance(refused.value.__cause__, psycopg.errors.InsufficientPrivilege)

    with psycopg.connect(with_schema(roles.readonly, DEFAULT_SCHEMA)) as conn:
        names = conn.execute("SELECT name FROM experiment ORDER BY experiment_id").fetchall()
        assert names == [("Default",), ("e",)]  # experiment 0 is in every database
    for statement in (
        "INSERT INTO experiment (name) VALUES ('x')",
        "UPDATE experiment SET name = 'x'",
        "DELETE FROM experiment",
        "CREATE TEMP TABLE t (a integer)",
    ):
        _refused(roles.readonly, statement)


def test_only_the_owner_bypasses_rls(roles: Roles) -> None:
    upgrade(roles.admin, DEFAULT_SCHEMA)
    app = check_serving_role(with_schema(roles.app, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    readonly = check_serving_role(with_schema(roles.readonly, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    owner = check_serving_role(with_schema(roles.admin, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
    assert app.safe and readonly.safe
    assert (owner.superuser, owner.bypassrls, owner.owned > 0) == (False, True, True)


@pytest.mark.anyio
async def test_an_unexpected_error_is_a_500_without_a_traceback() -> None:
    async def boom(request: Request) -> Response:
        raise RuntimeError("secret internal detail")

    app = create_app(Settings(database_url="unused"), "unused")
    # Declared public: a route added without a declaration would be refused by its guard.
    app.router.routes.append(protect(Route("/boom", boom), Access.PUBLIC))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": f"internal server error (request id {request_id})",
            "details": {"request_id": request_id},
        }
    }
    assert "secret" not in response.text and "Traceback" not in response.text
