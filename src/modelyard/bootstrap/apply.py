"""Applies a bootstrap `Spec` to an existing PostgreSQL server with plain SQL, idempotently.

The SQL twin of the Pulumi component in ``infra/``: the same spec, the same roles, database,
schema, extensions and grants. Each run reads what exists and changes only what differs, so a
second run reports every object unchanged. Everything that can be checked up front (passwords of
new roles, required extensions, the encoding of an existing database) is checked before the first
statement, so those failures change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from modelyard.bootstrap._grants import grant_role, revoke_public, unknown_keywords
from modelyard.bootstrap._roles import Conn, RoleState, read_roles, reconcile_role
from modelyard.bootstrap.report import Action, BootstrapReport, Change
from modelyard.bootstrap.spec import RoleSpec, Spec
from modelyard.db.conninfo import redact, with_database
from modelyard.errors import BootstrapError, DatabaseUnavailable
from modelyard.sql import query

__all__ = ["Action", "BootstrapReport", "Change", "bootstrap", "roles_to_create"]


@dataclass(frozen=True)
class _Server:
    """What exists before the run, read once from the administrator's connection."""

    user: str
    superuser: bool
    can_bypass: bool  # may give the owner BYPASSRLS
    roles: dict[str, RoleState]
    # (owner, encoding, connection limit), or None when the database does not exist yet
    database: tuple[str, str, int] | None
    available_extensions: frozenset[str]


def roles_to_create(admin_conninfo: str, spec: Spec) -> tuple[RoleSpec, ...]:
    """The spec's roles that do not exist on the server yet (they will need passwords)."""
    with _connect(admin_conninfo, autocommit=True) as conn:
        existing = read_roles(conn, [role.name for role in spec.roles])
    return tuple(role for role in spec.roles if role.name not in existing)


def bootstrap(
    admin_conninfo: str, spec: Spec, passwords: Mapping[str, str] | None = None
) -> BootstrapReport:
    """Make the server match ``spec``, connected as an administrator; report what it did.

    ``passwords`` maps role keys (``admin``, ``app``, ``readonly``) to passwords. A role that
    does not exist yet needs one; an existing role's password is changed only when given and
    different (superusers can tell; other administrators always set a given password).
    """
    passwords = dict(passwords or {})
    unknown = set(passwords) - {role.key for role in spec.roles}
    if unknown:
        raise BootstrapError(f"passwords given for unknown role keys: {sorted(unknown)}")
    try:
        with _connect(admin_conninfo, autocommit=True) as conn:
            server = _survey(conn, spec)
            _preflight(server, spec, passwords)
            changes = _roles(conn, server, spec, passwords)
            changes.append(_database(conn, server, spec))
        database_dsn = with_database(admin_conninfo, spec.database.name)
        with _connect(database_dsn) as conn, conn.transaction():
            changes.append(_schema(conn, spec))
            changes += [_extension(conn, server, ext.name, ext.required) for ext in spec.extensions]
            changes += _grants(conn, spec)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BootstrapError(f"bootstrap failed: {first}") from exc
    return BootstrapReport(tuple(changes))


def _connect(conninfo: str, *, autocommit: bool = False) -> Conn:
    try:
        return psycopg.connect(conninfo, autocommit=autocommit)
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot connect to {redact(conninfo)}: {exc}") from exc


def _survey(conn: Conn, spec: Spec) -> _Server:
    me = conn.execute(query("bootstrap.whoami")).fetchone()
    assert me is not None  # current_user always has a pg_roles row
    database = conn.execute(query("bootstrap.database"), [spec.database.name]).fetchone()
    wanted = [ext.name for ext in spec.extensions]
    available = conn.execute(query("bootstrap.available_extensions"), [wanted]).fetchall()
    return _Server(
        user=str(me[0]),
        superuser=bool(me[1]),
        can_bypass=bool(me[2]),
        roles=read_roles(conn, [role.name for role in spec.roles]),
        database=(str(database[0]), str(database[1]), int(database[2]))  # type: ignore[call-overload]
        if database
        else None,
        available_extensions=frozenset(str(row[0]) for row in available),
    )


def _preflight(server: _Server, spec: Spec, passwords: Mapping[str, str]) -> None:
    """Refuse, before changing anything, what would fail or leave the server half-done."""
    missing = [
        role.name
        for role in spec.roles
        if role.name not in server.roles and role.login and role.key not in passwords
    ]
    if missing:
        raise BootstrapError(
            f"roles {', '.join(missing)} do not exist yet and no password was given for them"
        )
    unavailable = [
        ext.name
        for ext in spec.extensions
        if ext.required and ext.name not in server.available_extensions
    ]
    if unavailable:
        raise BootstrapError(
            f"required extensions not available on this server: {', '.join(unavailable)}"
        )
    if server.database is not None and server.database[1] != spec.database.encoding:
        raise BootstrapError(
            f"database {spec.database.name} exists with encoding {server.database[1]}, "
            f"the spec wants {spec.database.encoding}; refusing to touch it"
        )
    bad = set().union(*(unknown_keywords(role.privileges) for role in spec.roles))
    if bad:
        raise BootstrapError(f"unknown privilege keywords in the spec: {sorted(bad)}")
    if server.user in {role.name for role in spec.roles}:
        raise BootstrapError(f"connect as an administrator, not as the spec's role {server.user}")


def _roles(conn: Conn, server: _Server, spec: Spec, passwords: Mapping[str, str]) -> list[Change]:
    changes: list[Change] = []
    with conn.transaction():
        for role in spec.roles:
            state = server.roles.get(role.name)
            password = passwords.get(role.key)
            changes.append(
                reconcile_role(
                    conn,
                    role,
                    state,
                    password,
                    spec.schema.name,
                    server.superuser,
                    can_bypass=server.can_bypass,
                )
            )
        if not server.superuser:
            is_member = conn.execute(query("bootstrap.is_member"), [spec.owner.name]).fetchone()
            if not (is_member and is_member[0]):
                conn.execute(
                    sql.SQL(query("bootstrap.grant_membership")).format(
                        role=sql.Identifier(spec.owner.name)
                    )
                )
    return changes


def _database(conn: Conn, server: _Server, spec: Spec) -> Change:
    db = spec.database
    names = {"database": sql.Identifier(db.name), "owner": sql.Identifier(db.owner)}
    limit = sql.Literal(db.connection_limit)
    if server.database is None:
        # CREATE DATABASE cannot run inside a transaction block: this connection autocommits.
        conn.execute(
            sql.SQL(query("bootstrap.create_database")).format(
                **names,
                encoding=sql.Literal(db.encoding),
                template=sql.Identifier(db.template),
                limit=limit,
            )
        )
        change = Change("database", db.name, Action.CREATED)
    else:
        owner, _, current_limit = server.database
        changed = []
        if owner != db.owner:
            conn.execute(sql.SQL(query("bootstrap.alter_database_owner")).format(**names))
            changed.append(f"owner {owner} -> {db.owner}")
        if current_limit != db.connection_limit:
            conn.execute(
                sql.SQL(query("bootstrap.alter_database_limit")).format(**names, limit=limit)
            )
            changed.append(f"connection limit {current_limit} -> {db.connection_limit}")
        action = Action.CHANGED if changed else Action.UNCHANGED
        change = Change("database", db.name, action, ", ".join(changed))
    if not server.superuser:
        conn.execute(sql.SQL(query("bootstrap.grant_admin_connect")).format(**names))
    return change


def _schema(conn: Conn, spec: Spec) -> Change:
    name, owner = spec.schema.name, spec.owner.name
    names = {"schema": sql.Identifier(name), "owner": sql.Identifier(owner)}
    row = conn.execute(query("bootstrap.schema_owner"), [name]).fetchone()
    if row is None:
        conn.execute(sql.SQL(query("bootstrap.create_schema")).format(**names))
        return Change("schema", name, Action.CREATED)
    if row[0] != owner:
        conn.execute(sql.SQL(query("bootstrap.alter_schema_owner")).format(**names))
        return Change("schema", name, Action.CHANGED, f"owner {row[0]} -> {owner}")
    return Change("schema", name, Action.UNCHANGED)


def _extension(conn: Conn, server: _Server, name: str, required: bool) -> Change:
    installed = conn.execute(query("bootstrap.installed_extension"), [name]).fetchone()
    if installed is not None:
        return Change("extension", name, Action.UNCHANGED, f"in schema {installed[0]}")
    if name not in server.available_extensions:  # required ones were refused by the preflight
        return Change("extension", name, Action.SKIPPED, "optional, not available on this server")
    try:
        # A savepoint, so that an optional extension the administrator may not create (not
        # trusted, no superuser) is skipped without aborting the rest.
        with conn.transaction():
            conn.execute(
                sql.SQL(query("bootstrap.create_extension")).format(extension=sql.Identifier(name))
            )
    except psycopg.Error as exc:
        if required:
            raise BootstrapError(f"cannot create required extension {name}: {exc}") from exc
        first = str(exc).strip().splitlines()[0]
        return Change("extension", name, Action.SKIPPED, f"optional, cannot create: {first}")
    return Change("extension", name, Action.CREATED, "in schema public")


def _grants(conn: Conn, spec: Spec) -> list[Change]:
    changes = [
        grant_role(
            conn,
            role.name,
            role.privileges,
            database=spec.database.name,
            schema=spec.schema.name,
            owner=spec.owner.name,
        )
        for role in spec.grantees
    ]
    changes.append(revoke_public(conn, spec.database.name, spec.schema.name))
    return changes
