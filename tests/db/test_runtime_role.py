"""The role the server connects as is one row-level security binds: not a superuser, no
BYPASSRLS, owner of nothing, with the app role's grants only; the embedded setup makes it, and a
server on a database URL says (or refuses) when its role is not so.
"""

from __future__ import annotations

import dataclasses
import logging
import stat
from pathlib import Path

import psycopg
import psycopg.errors
import pytest
from psycopg import sql

from modelyard.bootstrap.runtime import RUNTIME_ROLE, check_serving_role
from modelyard.database import open_database, require_rls_binding_role
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.db.migrate import upgrade
from modelyard.errors import UnsafeDatabaseRole
from modelyard.settings import Settings
from modelyard.store import Store
from pool_support import pooled

pytestmark = pytest.mark.anyio

ATTRIBUTES = """
SELECT rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin
FROM pg_roles WHERE rolname = current_user
"""
# Everything in the schema the connected role owns or has the privileges of an owner of.
OWNED = """
SELECT 'schema', nspname::text FROM pg_namespace
WHERE nspname = %(s)s AND pg_has_role(current_user, nspowner, 'USAGE')
UNION ALL
SELECT 'relation', c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(s)s AND pg_has_role(current_user, c.relowner, 'USAGE')
UNION ALL
SELECT 'function', p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(s)s AND pg_has_role(current_user, p.proowner, 'USAGE')
UNION ALL
SELECT 'type', t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = %(s)s AND pg_has_role(current_user, t.typowner, 'USAGE')
"""


def assert_binds_rls(url: str) -> str:
    """Assert the role ``url`` connects as cannot get past row-level security; its name."""
    with psycopg.connect(with_schema(url, DEFAULT_SCHEMA)) as conn:
        row = conn.execute(ATTRIBUTES).fetchone()
        assert row == (False, False, False, False, False, True)
        assert conn.execute(OWNED, {"s": DEFAULT_SCHEMA}).fetchall() == []
        name = conn.execute("SELECT current_user::text").fetchone()
    assert name is not None
    assert check_serving_role(with_schema(url, DEFAULT_SCHEMA), DEFAULT_SCHEMA).safe
    return str(name[0])


def test_the_runtime_role_is_bound_by_rls(runtime_url: str) -> None:
    assert assert_binds_rls(runtime_url).startswith("modelyard_rt_")


def test_the_runtime_role_reads_and_writes_but_changes_no_schema(runtime_url: str) -> None:
    with psycopg.connect(with_schema(runtime_url, DEFAULT_SCHEMA), autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM experiment")
        with conn.transaction():
            conn.execute("INSERT INTO workspace (name) VALUES ('granted')")
            conn.execute("DELETE FROM workspace WHERE name = 'granted'")
        for statement in (
            "CREATE TABLE sneaky (x int)",
            "ALTER TABLE experiment DISABLE ROW LEVEL SECURITY",
            "TRUNCATE event",
            "DROP TABLE webhook_attempt",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


async def test_the_store_fixture_connects_as_the_runtime_role(
    store: Store, runtime_url: str
) -> None:
    async with store.pool.connection() as conn:
        cur = await conn.execute("SELECT current_user::text")
        row = await cur.fetchone()
    assert row is not None
    assert row[0] == psycopg.conninfo.conninfo_to_dict(runtime_url)["user"]


def test_a_table_added_by_a_later_migration_is_granted(
    database_url: str, runtime_url: str
) -> None:
    # As the owner, like a migration: the owner's default privileges cover what it creates.
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as owner:
        owner.execute("CREATE TABLE added_later (id bigint GENERATED ALWAYS AS IDENTITY, x int)")
        owner.execute("CREATE FUNCTION added_later_fn() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    with psycopg.connect(with_schema(runtime_url, DEFAULT_SCHEMA)) as conn:
        conn.execute("INSERT INTO added_later (x) VALUES (1)")
        conn.execute("UPDATE added_later SET x = 2")
        assert conn.execute("SELECT x FROM added_later").fetchall() == [(2,)]
        assert conn.execute("SELECT added_later_fn()").fetchone() == (1,)
        conn.execute("DELETE FROM added_later")
    assert_binds_rls(runtime_url)


def test_a_superuser_server_is_refused_with_auth_on(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url=database_url, auth=True)
    with pytest.raises(UnsafeDatabaseRole, match=r"is a superuser.*--allow-rls-bypass"):
        require_rls_binding_role(database_url, settings)
    caplog.set_level(logging.WARNING, logger="modelyard.database")
    require_rls_binding_role(database_url, dataclasses.replace(settings, allow_rls_bypass=True))
    require_rls_binding_role(database_url, dataclasses.replace(settings, auth=False))
    warnings = [r for r in caplog.records if "bypasses row-level security" in r.getMessage()]
    assert len(warnings) == 2


def test_an_owner_server_is_refused_and_the_runtime_role_is_not(
    pg_server: str, database_url: str, runtime_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A login that owns the schema's tables (no superuser): what connecting as db_admin means.
    login = psycopg.conninfo.conninfo_to_dict(runtime_url)
    owner = f"{login['user']}_owner"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(owner), sql.Literal(str(login["password"]))
            )
        )
    try:
        with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
            conn.execute(sql.SQL("ALTER TABLE run OWNER TO {}").format(sql.Identifier(owner)))
        owner_url = psycopg.conninfo.make_conninfo(database_url, user=owner)
        owner_url = psycopg.conninfo.make_conninfo(owner_url, password=str(login["password"]))
        risk = check_serving_role(with_schema(owner_url, DEFAULT_SCHEMA), DEFAULT_SCHEMA)
        # The table, its indexes and its identity sequence.
        assert (risk.superuser, risk.bypassrls, risk.owned > 1) == (False, False, True)
        with pytest.raises(UnsafeDatabaseRole, match=r"owns \d+ object"):
            require_rls_binding_role(owner_url, Settings(database_url=owner_url, auth=True))
        caplog.set_level(logging.WARNING, logger="modelyard.database")
        require_rls_binding_role(runtime_url, Settings(database_url=runtime_url, auth=True))
        assert not [r for r in caplog.records if r.name == "modelyard.database"]
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            # The fixture drops it too; first, so that the role owns nothing when dropped.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(conninfo_db(database_url))
                )
            )
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))


def conninfo_db(url: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])


def _embedded(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


async def test_the_embedded_server_connects_as_the_runtime_role(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = _embedded(tmp_path)
    password_file = settings.data_dir / "pg.runtime.password"
    # A data directory of an older modelyard: migrated, served as the superuser, no runtime role.
    with open_database(settings) as owner_dsn:
        upgrade(owner_dsn, settings.schema)
        with psycopg.connect(owner_dsn) as conn:
            found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [RUNTIME_ROLE.name])
            assert found.fetchone() is None
    assert not password_file.exists()

    with open_database(settings, for_serving=True) as dsn:
        assert assert_binds_rls(dsn) == RUNTIME_ROLE.name
        store = await Store.open(dsn, settings.schema, min_size=1, max_size=1)
        try:
            async with pooled(store.pool) as conn:
                cur = await conn.execute("SELECT current_user::text, count(*) FROM experiment")
                assert await cur.fetchone() == (RUNTIME_ROLE.name, 1)
        finally:
            await store.close()
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 24

    # Again (idempotent), and after the password file was lost: a new password that works.
    with open_database(settings, for_serving=True) as dsn:
        assert psycopg.conninfo.conninfo_to_dict(dsn)["password"] == password
    password_file.unlink()
    with open_database(settings, for_serving=True) as dsn:
        assert assert_binds_rls(dsn) == RUNTIME_ROLE.name
    assert password_file.read_text().strip() != password
    # Never printed, never logged: not in our log records, not in the server's log.
    secrets = {password, password_file.read_text().strip()}
    logged = "\n".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    server_log = (settings.data_dir / "pg.log").read_text(errors="replace")
    assert not any(s in logged or s in server_log for s in secrets)
