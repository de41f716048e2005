"""Grants and default privileges that give each non-owner role exactly its spec's access.

The SQL twin of ``infra/modelyard_infra/grants.py``: for every object class it revokes what the
role holds and grants what the spec lists (an empty list leaves nothing), on the database, the
schema, the objects in it now, and as the owner's default privileges for objects created later.
Whether anything changed is read from the catalog: the role's privileges before and after.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql

from modelyard.bootstrap.report import Action, Change
from modelyard.bootstrap.spec import Privileges
from modelyard.sql import query

Conn = psycopg.Connection[tuple[object, ...]]

# The only privilege keywords a spec may name; anything else is refused, never spliced into SQL.
KEYWORDS: dict[str, sql.SQL] = {
    word: sql.SQL(word)
    for word in (
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
        "REFERENCES",
        "TRIGGER",
        "USAGE",
        "CREATE",
        "CONNECT",
        "TEMPORARY",
        "EXECUTE",
    )
}

# (ALL ... IN SCHEMA / default-privileges keyword, the Privileges field it takes its list from)
_OBJECT_CLASSES: tuple[tuple[sql.SQL, str], ...] = (
    (sql.SQL("TABLES"), "tables"),
    (sql.SQL("SEQUENCES"), "sequences"),
    (sql.SQL("FUNCTIONS"), "functions"),
)

Snapshot = frozenset[tuple[str, str, str]]


def unknown_keywords(privileges: Privileges) -> set[str]:
    every = (
        *privileges.database,
        *privileges.schema,
        *privileges.tables,
        *privileges.sequences,
        *privileges.functions,
    )
    return {word for word in every if word not in KEYWORDS}


def _keywords(words: Sequence[str]) -> sql.Composable:
    return sql.SQL(", ").join(KEYWORDS[word] for word in words)


def snapshot(conn: Conn, grantee: str | None, schema: str) -> Snapshot:
    """(class, object, privilege) held by ``grantee`` (None is PUBLIC) in the current database."""
    oid = 0
    if grantee is not None:
        row = conn.execute(query("bootstrap.role_oid"), [grantee]).fetchone()
        oid = int(row[0]) if row else -1  # type: ignore[call-overload]
    rows = conn.execute(query("bootstrap.privileges_of"), {"grantee": oid, "schema": schema})
    return frozenset((str(c), str(o), str(p)) for c, o, p in rows.fetchall())


def describe(before: Snapshot, after: Snapshot) -> str:
    """E.g. ``+CONNECT TEMPORARY on database ml_models; -TRUNCATE on table run``."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for sign, rows in (("+", after - before), ("-", before - after)):
        for cls, obj, privilege in sorted(rows):
            grouped.setdefault((sign, cls, obj), []).append(privilege)
    parts = []
    for (sign, cls, obj), privileges in grouped.items():
        # Default privileges are keyed by the role whose future objects they cover.
        target = f"{cls}s of {obj}" if cls.startswith("default ") else f"{cls} {obj}"
        parts.append(f"{sign}{' '.join(privileges)} on {target}")
    return "; ".join(parts)


def revoke_public(conn: Conn, database: str, schema: str) -> Change:
    """PUBLIC may CONNECT and create TEMP tables in every new database; take both away."""
    before = snapshot(conn, None, schema)
    conn.execute(
        sql.SQL(query("bootstrap.revoke_database")).format(
            database=sql.Identifier(database), grantee=sql.SQL("PUBLIC")
        )
    )
    after = snapshot(conn, None, schema)
    action = Action.CHANGED if before != after else Action.UNCHANGED
    return Change("grants", "PUBLIC", action, describe(before, after))


def _keep_audit_append_only(conn: Conn, schema: str) -> None:
    """Take back what granting every table gave on the audit log (schema.sql), once it exists."""
    exists = conn.execute(query("bootstrap.audit_append_only_exists"), [schema]).fetchone()
    if exists == (True,):
        conn.execute(
            sql.SQL(query("bootstrap.audit_append_only")).format(schema=sql.Identifier(schema))
        )


def grant_role(
    conn: Conn, role: str, privileges: Privileges, *, database: str, schema: str, owner: str
) -> Change:
    """Reconcile ``role``'s privileges with ``privileges``; the caller holds a transaction."""
    before = snapshot(conn, role, schema)
    names = {
        "database": sql.Identifier(database),
        "schema": sql.Identifier(schema),
        "owner": sql.Identifier(owner),
        "grantee": sql.Identifier(role),
    }

    def run(name: str, **extra: sql.Composable) -> None:
        conn.execute(sql.SQL(query(f"bootstrap.{name}")).format(**names, **extra))

    run("revoke_database")
    if privileges.database:
        run("grant_database", privileges=_keywords(privileges.database))
    run("revoke_schema")
    if privileges.schema:
        run("grant_schema", privileges=_keywords(privileges.schema))
    for objects, field in _OBJECT_CLASSES:
        granted: tuple[str, ...] = getattr(privileges, field)
        run("revoke_objects", objects=objects)
        run("revoke_defaults", objects=objects)
        if granted:
            run("grant_objects", objects=objects, privileges=_keywords(granted))
            # Migrations run as the owner, so the owner's defaults cover every table they add.
            run("grant_defaults", objects=objects, privileges=_keywords(granted))
    _keep_audit_append_only(conn, schema)
    after = snapshot(conn, role, schema)
    action = Action.CHANGED if before != after else Action.UNCHANGED
    return Change("grants", role, action, describe(before, after))
