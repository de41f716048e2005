"""`bootstrap` against a real server: what it creates, idempotence, reconciling drift, refusals."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from bootstrap_support import Cluster
from psycopg import sql

from modelyard.bootstrap._grants import snapshot
from modelyard.bootstrap.apply import Action, BootstrapReport, bootstrap
from modelyard.bootstrap.credentials import password_matches
from modelyard.bootstrap.spec import spec_from_mapping
from modelyard.db.migrate import status, upgrade
from modelyard.errors import BootstrapError, DatabaseUnavailable


def rows(dsn: str, query: Any, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def actions(report: BootstrapReport) -> dict[str, Action]:
    return {f"{c.kind} {c.name}": c.action for c in report.changes}


def role_row(c: Cluster, key: str) -> tuple[Any, ...]:
    (row,) = rows(
        c.server,
        "SELECT rolcanlogin, rolconnlimit, rolsuper, rolcreatedb, rolcreaterole, rolconfig "
        "FROM pg_roles WHERE rolname = %s",
        c.role_name(key),
    )
    return row


def names_exist(c: Cluster) -> tuple[list[str], bool]:
    roles = rows(
        c.server,
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
        [r.name for r in c.spec.roles],
    )
    database = rows(c.server, "SELECT 1 FROM pg_database WHERE datname = %s", c.spec.database.name)
    return [r[0] for r in roles], bool(database)


def privileges(c: Cluster) -> dict[str, frozenset[tuple[str, str, str]]]:
    with psycopg.connect(c.dsn()) as conn:
        grantees: list[str | None] = [c.role_name("app"), c.role_name("readonly"), None]
        return {str(g): snapshot(conn, g, c.schema) for g in grantees}


def test_first_run_creates_roles_database_schema_and_extensions(cluster: Cluster) -> None:
    report = bootstrap(cluster.server, cluster.spec, cluster.passwords)
    spec = cluster.spec
    assert actions(report) == {
        **{f"role {r.name}": Action.CREATED for r in spec.roles},
        f"database {spec.database.name}": Action.CREATED,
        f"schema {spec.schema.name}": Action.CREATED,
        **{f"extension {e.name}": Action.CREATED for e in spec.extensions},
        f"grants {cluster.role_name('app')}": Action.CHANGED,
        f"grants {cluster.role_name('readonly')}": Action.CHANGED,
        "grants PUBLIC": Action.CHANGED,
    }
    for role in spec.roles:
        login, limit, su, createdb, createrole, config = role_row(cluster, role.key)
        assert (login, limit) == (True, role.connection_limit)
        assert not (su or createdb or createrole)
        assert config == [f"search_path={spec.schema.name}, public"]
    ((owner, encoding, limit),) = rows(
        cluster.server,
        "SELECT pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datconnlimit "
        "FROM pg_database WHERE datname = %s",
        spec.database.name,
    )
    assert (owner, encoding, limit) == (spec.owner.name, "UTF8", spec.database.connection_limit)
    db = cluster.dsn()
    schema_owner = rows(
        db,
        "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = %s",
        spec.schema.name,
    )
    assert schema_owner == [(spec.owner.name,)]
    extensions = rows(
        db,
        "SELECT extname, extnamespace::regnamespace::text FROM pg_extension "
        "WHERE extname <> 'plpgsql'",
    )
    assert sorted(extensions) == sorted((e.name, "public") for e in spec.extensions)


def bypassrls(c: Cluster) -> dict[str, bool]:
    found = rows(
        c.server,
        "SELECT rolname, rolbypassrls FROM pg_roles WHERE rolname = ANY(%s)",
        [r.name for r in c.spec.roles],
    )
    return {str(name): bool(bypass) for name, bypass in found}


def owned_in_schema(c: Cluster, key: str) -> int:
    ((count,),) = rows(
        c.dsn(),
        "SELECT (SELECT count(*) FROM pg_class k JOIN pg_namespace n ON n.oid = k.relnamespace "
        "        WHERE n.nspname = %s AND k.relowner = r.oid) "
        "     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "        WHERE n.nspname = %s AND p.proowner = r.oid) "
        "     + (SELECT count(*) FROM pg_namespace n WHERE n.nspowner = r.oid) "
        "FROM pg_roles r WHERE r.rolname = %s",
        c.schema,
        c.schema,
        c.role_name(key),
    )
    return int(count)


def test_only_the_owner_bypasses_rls_and_the_app_role_owns_nothing(cluster: Cluster) -> None:
    """Row-level security binds the server: its role has no BYPASSRLS and owns no object (an
    owner skips unforced policies); the owner has BYPASSRLS for migrations, backups and gc."""
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    upgrade(cluster.dsn("admin"), cluster.schema)
    assert bypassrls(cluster) == {
        cluster.role_name("admin"): True,
        cluster.role_name("app"): False,
        cluster.role_name("readonly"): False,
    }
    assert owned_in_schema(cluster, "app") == 0
    assert owned_in_schema(cluster, "readonly") == 0
    assert owned_in_schema(cluster, "admin") > 0
    # Drift either way is put back.
    app, owner = (sql.Identifier(cluster.role_name(k)) for k in ("app", "admin"))
    with psycopg.connect(cluster.server, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} BYPASSRLS").format(app))
        conn.execute(sql.SQL("ALTER ROLE {} NOBYPASSRLS").format(owner))
    report = bootstrap(cluster.server, cluster.spec, cluster.passwords)
    detail = {c.name: c.detail for c in report.changes if c.kind == "role"}
    assert detail[cluster.role_name("app")] == "no bypassrls"
    assert detail[cluster.role_name("admin")] == "bypassrls"
    assert bypassrls(cluster)[cluster.role_name("app")] is False
    assert bypassrls(cluster)[cluster.role_name("admin")] is True


def test_passwords_are_stored_as_scram_verifiers_of_the_given_ones(cluster: Cluster) -> None:
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    for key in ("admin", "app", "readonly"):
        ((stored,),) = rows(
            cluster.server,
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s",
            cluster.role_name(key),
        )
        assert stored.startswith("SCRAM-SHA-256$")
        assert password_matches(stored, cluster.role_name(key), cluster.passwords[key]) is True
        assert password_matches(stored, cluster.role_name(key), "not-it") is False


def test_second_run_reports_everything_unchanged(cluster: Cluster) -> None:
    first = bootstrap(cluster.server, cluster.spec, cluster.passwords)
    before = privileges(cluster)
    second = bootstrap(cluster.server, cluster.spec, cluster.passwords)
    assert first.changed and not second.changed
    assert [c.action for c in second.changes] == [Action.UNCHANGED] * len(first.changes)
    assert second.summary() == f"{len(first.changes)} unchanged"
    assert privileges(cluster) == before
    # Without passwords, existing roles keep theirs: still nothing to do.
    assert not bootstrap(cluster.server, cluster.spec).changed


def test_drift_is_reconciled_back_to_the_spec(cluster: Cluster) -> None:
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    expected = privileges(cluster)
    app, ro, owner = (sql.Identifier(cluster.role_name(k)) for k in ("app", "readonly", "admin"))
    db, schema = sql.Identifier(cluster.spec.database.name), sql.Identifier(cluster.schema)
    with psycopg.connect(cluster.server, autocommit=True) as conn:
        for statement in (
            "ALTER ROLE {app} WITH CREATEDB CONNECTION LIMIT 3",
            "ALTER ROLE {ro} RESET search_path",
            "ALTER DATABASE {db} WITH CONNECTION LIMIT 1",
            "ALTER DATABASE {db} OWNER TO {ro}",
            "GRANT CONNECT ON DATABASE {db} TO PUBLIC",
            "GRANT TEMPORARY ON DATABASE {db} TO {ro}",
        ):
            conn.execute(sql.SQL(statement).format(app=app, ro=ro, db=db))
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        for statement in (
            "CREATE TABLE {schema}.t (id int)",
            "ALTER TABLE {schema}.t OWNER TO {owner}",
            "GRANT CREATE ON SCHEMA {schema} TO {app}",
            "GRANT TRUNCATE ON {schema}.t TO {app}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA {schema} "
            "GRANT INSERT ON TABLES TO {ro}",
            "ALTER SCHEMA {schema} OWNER TO {ro}",
        ):
            conn.execute(sql.SQL(statement).format(schema=schema, app=app, ro=ro, owner=owner))
    report = bootstrap(cluster.server, cluster.spec, cluster.passwords)
    detail = {f"{c.kind} {c.name}": (c.action, c.detail) for c in report.changes}
    app_name, ro_name = cluster.role_name("app"), cluster.role_name("readonly")
    app_limit = cluster.spec.role("app").connection_limit
    assert detail[f"role {app_name}"] == (
        Action.CHANGED,
        f"no createdb, connection limit 3 -> {app_limit}",
    )
    assert detail[f"role {ro_name}"] == (Action.CHANGED, "search_path")
    assert detail[f"database {cluster.spec.database.name}"][0] is Action.CHANGED
    assert detail[f"schema {cluster.schema}"][0] is Action.CHANGED
    assert "-CREATE on schema" in detail[f"grants {app_name}"][1]
    assert "-TRUNCATE on table t" in detail[f"grants {app_name}"][1]
    assert "+SELECT on table t" in detail[f"grants {ro_name}"][1]  # the new table is granted
    assert "-INSERT on default tables" in detail[f"grants {ro_name}"][1]
    assert detail["grants PUBLIC"] == (
        Action.CHANGED,
        f"-CONNECT on database {cluster.spec.database.name}",
    )
    # Back to the spec: the same privileges as before, plus table t's rightful grants.
    now = privileges(cluster)
    assert now["None"] == expected["None"]
    assert {p for p in now[app_name] if p[1] != "t"} == expected[app_name]
    assert {p for p in now[app_name] if p[1] == "t"} == {
        ("table", "t", p) for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
    }
    assert not bootstrap(cluster.server, cluster.spec, cluster.passwords).changed


def test_a_new_password_is_set_and_the_old_one_no_longer_matches(cluster: Cluster) -> None:
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    old = cluster.passwords["app"]
    report = bootstrap(cluster.server, cluster.spec, {"app": "brand-new-password"})
    assert actions(report)[f"role {cluster.role_name('app')}"] is Action.CHANGED
    assert [c.detail for c in report.changes if c.action is Action.CHANGED] == ["password"]
    ((stored,),) = rows(
        cluster.server,
        "SELECT rolpassword FROM pg_authid WHERE rolname = %s",
        cluster.role_name("app"),
    )
    assert password_matches(stored, cluster.role_name("app"), "brand-new-password")
    assert not password_matches(stored, cluster.role_name("app"), old)


def test_missing_required_extension_is_refused_before_anything_is_created(
    cluster: Cluster,
) -> None:
    spec = spec_from_mapping({"extensions": {"no_such_extension_zz": "required"}}, cluster.spec)
    with pytest.raises(BootstrapError, match="no_such_extension_zz"):
        bootstrap(cluster.server, spec, cluster.passwords)
    assert names_exist(cluster) == ([], False)


def test_missing_optional_extension_is_skipped_with_a_note(cluster: Cluster) -> None:
    spec = spec_from_mapping({"extensions": {"no_such_extension_zz": "optional"}}, cluster.spec)
    report = bootstrap(cluster.server, spec, cluster.passwords)
    (skipped,) = report.by_action(Action.SKIPPED)
    assert (skipped.name, skipped.detail) == (
        "no_such_extension_zz",
        "optional, not available on this server",
    )
    assert actions(report)["extension pg_trgm"] is Action.CREATED
    again = bootstrap(cluster.server, spec, cluster.passwords)
    assert not again.changed and len(again.by_action(Action.SKIPPED)) == 1


def test_new_role_without_a_password_is_refused_before_anything_is_created(
    cluster: Cluster,
) -> None:
    passwords = {k: v for k, v in cluster.passwords.items() if k != "readonly"}
    with pytest.raises(BootstrapError, match=cluster.role_name("readonly")):
        bootstrap(cluster.server, cluster.spec, passwords)
    assert names_exist(cluster) == ([], False)


def test_existing_database_with_another_encoding_is_left_alone(cluster: Cluster) -> None:
    with psycopg.connect(cluster.server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} ENCODING 'SQL_ASCII' LOCALE 'C' TEMPLATE template0").format(
                sql.Identifier(cluster.spec.database.name)
            )
        )
    with pytest.raises(BootstrapError, match="encoding SQL_ASCII"):
        bootstrap(cluster.server, cluster.spec, cluster.passwords)
    assert names_exist(cluster) == ([], True)


def test_passwords_for_unknown_role_keys_are_refused(cluster: Cluster) -> None:
    with pytest.raises(BootstrapError, match="unknown role keys"):
        bootstrap(cluster.server, cluster.spec, {**cluster.passwords, "superuser": "x"})
    assert names_exist(cluster) == ([], False)


def test_unreachable_server_is_database_unavailable(cluster: Cluster) -> None:
    dsn = psycopg.conninfo.make_conninfo(cluster.server, port="1", connect_timeout="2")
    with pytest.raises(DatabaseUnavailable, match="cannot connect"):
        bootstrap(dsn, cluster.spec, cluster.passwords)


def test_migrations_run_as_the_owner_build_a_schema_it_owns(cluster: Cluster) -> None:
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    applied = upgrade(cluster.dsn("admin"), cluster.schema)
    assert applied
    owners = rows(
        cluster.dsn(),
        "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class AS c "
        "JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = %s",
        cluster.schema,
    )
    assert owners == [(cluster.role_name("admin"),)]
    # Every role can tell whether the schema is current (the server's start-up check).
    for key in ("admin", "app", "readonly"):
        assert status(cluster.dsn(key), cluster.schema).up_to_date
    assert not bootstrap(cluster.server, cluster.spec, cluster.passwords).changed


def test_an_administrator_that_is_not_a_superuser_can_bootstrap(cluster: Cluster) -> None:
    # Like a managed service's master user: CREATEROLE and CREATEDB, not a superuser.
    admin_dsn = cluster.new_role("master", sql.SQL("LOGIN CREATEROLE CREATEDB"))
    report = bootstrap(admin_dsn, cluster.spec, cluster.passwords)
    done = actions(report)
    # It cannot give BYPASSRLS: the owner is made without, and the report says so.
    owner = next(c for c in report.changes if c.name == cluster.role_name("admin"))
    assert (owner.action, "without BYPASSRLS" in owner.detail) == (Action.CREATED, True)
    assert not any(bypassrls(cluster).values())
    assert done["extension pg_trgm"] is Action.CREATED  # trusted: the owner's member may
    # pg_stat_statements is not trusted: only a superuser may create it, so it is skipped.
    assert done["extension pg_stat_statements"] is Action.SKIPPED
    assert upgrade(cluster.dsn("admin"), cluster.schema)
    again = bootstrap(admin_dsn, cluster.spec)
    assert not again.changed
    # It cannot read pg_authid, so a given password is always set (and reported).
    with_passwords = bootstrap(admin_dsn, cluster.spec, cluster.passwords)
    assert {c.detail for c in with_passwords.by_action(Action.CHANGED)} == {"password"}


def test_connecting_as_one_of_the_specs_roles_is_refused(cluster: Cluster) -> None:
    bootstrap(cluster.server, cluster.spec, cluster.passwords)
    before = privileges(cluster)
    with pytest.raises(BootstrapError, match="not as the spec's role"):
        bootstrap(cluster.dsn("admin"), cluster.spec, {"app": "would-change-it"})
    assert privileges(cluster) == before
    ((stored,),) = rows(
        cluster.server,
        "SELECT rolpassword FROM pg_authid WHERE rolname = %s",
        cluster.role_name("app"),
    )
    assert password_matches(stored, cluster.role_name("app"), cluster.passwords["app"])
