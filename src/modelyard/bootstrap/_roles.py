"""Creates the spec's roles, or reconciles existing ones: login, limits, password, search_path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg import sql

from modelyard.bootstrap.credentials import password_matches
from modelyard.bootstrap.report import Action, Change
from modelyard.bootstrap.spec import RoleSpec
from modelyard.sql import query

Conn = psycopg.Connection[tuple[object, ...]]

# Attributes no modelyard role may have, with the keyword that takes each away. BYPASSRLS is
# the owner's alone (RoleSpec.bypass_rls); every other role loses it.
_FORBIDDEN: dict[str, sql.SQL] = {
    "superuser": sql.SQL("NOSUPERUSER"),
    "createdb": sql.SQL("NOCREATEDB"),
    "createrole": sql.SQL("NOCREATEROLE"),
    "replication": sql.SQL("NOREPLICATION"),
}
# Said when the owner should have BYPASSRLS but the administrator cannot give it.
NO_BYPASS_NOTE = "without BYPASSRLS (the administrator cannot grant it; see docs/security.md)"


@dataclass(frozen=True)
class RoleState:
    """A role as pg_roles shows it."""

    name: str
    login: bool
    connection_limit: int
    superuser: bool
    createdb: bool
    createrole: bool
    replication: bool
    bypassrls: bool
    config: tuple[str, ...]


def read_roles(conn: Conn, names: Sequence[str]) -> dict[str, RoleState]:
    rows = conn.execute(query("bootstrap.roles"), [list(names)]).fetchall()
    found: dict[str, RoleState] = {}
    for name, login, limit, su, cdb, crole, repl, bypass, config in rows:
        found[str(name)] = RoleState(
            str(name),
            bool(login),
            int(limit),  # type: ignore[call-overload]
            bool(su),
            bool(cdb),
            bool(crole),
            bool(repl),
            bool(bypass),
            _strings(config),
        )
    return found


def _login(role: RoleSpec) -> sql.SQL:
    return sql.SQL("LOGIN") if role.login else sql.SQL("NOLOGIN")


def _verifier(conn: Conn, role: RoleSpec, password: str) -> sql.Literal:
    # libpq hashes the password (SCRAM-SHA-256) on the client, so the plain text never reaches the
    # server, where statement logging could record it.
    hashed = conn.pgconn.encrypt_password(password.encode(), role.name.encode(), b"scram-sha-256")
    return sql.Literal(hashed.decode())


def _password_is_current(conn: Conn, role: RoleSpec, password: str, superuser: bool) -> bool:
    if not superuser:  # pg_authid is out of reach: set it, and report it as changed
        return False
    row = conn.execute(query("bootstrap.role_password"), [role.name]).fetchone()
    stored = str(row[0]) if row and row[0] is not None else None
    return password_matches(stored, role.name, password) is True


def reconcile_role(
    conn: Conn,
    role: RoleSpec,
    state: RoleState | None,
    password: str | None,
    schema: str,
    superuser: bool,
    *,
    can_bypass: bool | None = None,
) -> Change:
    """Create ``role`` or bring it in line with the spec; the caller holds a transaction.

    ``can_bypass``: whether the administrator may give BYPASSRLS (default: if a superuser); an
    owner that should have it but cannot get it is made without, and its creation says so.
    """
    name = sql.Identifier(role.name)
    can_bypass = superuser if can_bypass is None else can_bypass
    bypass = role.bypass_rls and can_bypass
    note = NO_BYPASS_NOTE if role.bypass_rls and not can_bypass else ""
    if state is None:
        if password is None:  # preflight refuses this; never create a login without one
            raise ValueError(f"no password for new role {role.name}")
        conn.execute(
            sql.SQL(query("bootstrap.create_role")).format(
                role=name,
                login=_login(role),
                bypassrls=sql.SQL("BYPASSRLS" if bypass else "NOBYPASSRLS"),
                limit=sql.Literal(role.connection_limit),
                password=_verifier(conn, role, password),
            )
        )
        _set_search_path(conn, role, schema)
        return Change("role", role.name, Action.CREATED, note)
    changed: list[str] = []
    options: list[sql.Composable] = []
    if state.login != role.login:
        options.append(_login(role))
        changed.append("login" if role.login else "nologin")
    for attribute, keyword in _FORBIDDEN.items():
        if getattr(state, attribute):
            options.append(keyword)
            changed.append(f"no {attribute}")
    if state.bypassrls and not role.bypass_rls:
        options.append(sql.SQL("NOBYPASSRLS"))
        changed.append("no bypassrls")
    elif bypass and not state.bypassrls:
        options.append(sql.SQL("BYPASSRLS"))
        changed.append("bypassrls")
    if state.connection_limit != role.connection_limit:
        options += [sql.SQL("CONNECTION LIMIT"), sql.Literal(role.connection_limit)]
        changed.append(f"connection limit {state.connection_limit} -> {role.connection_limit}")
    if password is not None and not _password_is_current(conn, role, password, superuser):
        options += [sql.SQL("PASSWORD"), _verifier(conn, role, password)]
        changed.append("password")
    if options:
        conn.execute(
            sql.SQL(query("bootstrap.alter_role")).format(
                role=name, options=sql.SQL(" ").join(options)
            )
        )
    if _set_search_path(conn, role, schema) != state.config:
        changed.append("search_path")
    if changed:
        return Change("role", role.name, Action.CHANGED, ", ".join(changed))
    return Change("role", role.name, Action.UNCHANGED)


def _set_search_path(conn: Conn, role: RoleSpec, schema: str) -> tuple[str, ...]:
    """Set the role's search_path (a no-op when it is already so); return its settings after."""
    conn.execute(
        sql.SQL(query("bootstrap.set_search_path")).format(
            role=sql.Identifier(role.name), schema=sql.Identifier(schema)
        )
    )
    row = conn.execute(query("bootstrap.role_config"), [role.name]).fetchone()
    return _strings(row[0]) if row else ()


def _strings(value: object) -> tuple[str, ...]:
    # rolconfig is a text[]: entries like "search_path=ml_model_schema, public"
    return tuple(str(item) for item in value) if isinstance(value, list | tuple) else ()
