"""Applies the schema and the numbered migrations, and reports where a database stands.

A fresh schema gets ``schema.sql`` in one go and every migration recorded as applied (the schema
is, by test, what the migrations build). An existing one gets the migrations it lacks, in order.
Either way the work runs in one transaction under an advisory lock, so two ``modelyard db
upgrade`` (or two servers starting) on one database wait for each other instead of colliding, and
a failed migration leaves nothing half-done.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from modelyard.db.conninfo import check_schema_name
from modelyard.db.errors import driver_errors, first_line
from modelyard.errors import MigrationError
from modelyard.sql import Migration, migrations, query, schema_sql

# Extensions the schema relies on. pg_trgm is a trusted extension, so the database owner may
# create it; on a server prepared by `modelyard db bootstrap` or Pulumi it already exists.
REQUIRED_EXTENSIONS = ("pg_trgm",)


@dataclass(frozen=True)
class SchemaStatus:
    """Where one database schema stands relative to this modelyard."""

    schema: str
    current: int
    latest: int
    applied: tuple[tuple[int, str], ...]
    pending: tuple[tuple[int, str], ...]
    modified: tuple[int, ...]  # applied migrations whose file changed since

    @property
    def up_to_date(self) -> bool:
        return self.current == self.latest and not self.modified


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _lock_key(schema: str) -> str:
    return f"modelyard.migrate.{schema}"


def _prepare(conn: psycopg.Connection[tuple[object, ...]], schema: str) -> None:
    conn.execute(query("migrate.lock"), [_lock_key(schema)])
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    for extension in REQUIRED_EXTENSIONS:
        conn.execute(
            sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA public").format(
                sql.Identifier(extension)
            )
        )
    conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
    conn.execute(query("migrate.create_version_table"))


def _applied(conn: psycopg.Connection[tuple[object, ...]]) -> dict[int, tuple[str, str]]:
    rows = conn.execute(query("migrate.applied")).fetchall()
    return {int(v): (str(n), str(c)) for v, n, c in rows}  # type: ignore[call-overload]


def _record(conn: psycopg.Connection[tuple[object, ...]], migration: Migration) -> None:
    conn.execute(
        query("migrate.record"), [migration.version, migration.name, checksum(migration.sql)]
    )


@driver_errors()
def upgrade(conninfo: str, schema: str) -> list[Migration]:
    """Bring ``schema`` to the latest version; returns the migrations applied (empty if none).

    Raises :class:`MigrationError` when a migration fails (nothing of it stays applied) or the
    schema holds tables modelyard did not create; other database failures as typed errors.
    """
    check_schema_name(schema)
    done: list[Migration] = []
    with psycopg.connect(conninfo) as conn:
        with conn.transaction():
            _prepare(conn, schema)
            applied = _applied(conn)
            if not applied:
                tables = conn.execute(query("migrate.count_tables"), [schema]).fetchone()
                if tables and int(tables[0]) > 1:  # schema_version itself is one
                    raise MigrationError(
                        f"schema {schema} has tables but no modelyard version record; "
                        "refusing to apply the schema over it",
                        schema=schema,
                    )
                _apply(conn, schema_sql(), "schema.sql")
                for migration in migrations():
                    _record(conn, migration)
                return list(migrations())
            for migration in migrations():
                if migration.version not in applied:
                    _apply(conn, migration.sql, f"{migration.version:04d}_{migration.name}")
                    _record(conn, migration)
                    done.append(migration)
    return done


def _apply(conn: psycopg.Connection[tuple[object, ...]], text: str, label: str) -> None:
    """Run one migration's SQL; its failure is a MigrationError naming it (and rolls all back)."""
    try:
        conn.execute(text)
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError):
            raise  # the connection failed, not the migration: a DatabaseUnavailable
        raise MigrationError(
            f"migration {label} failed, nothing was applied: {first_line(exc)}",
            migration=label,
        ) from exc


@driver_errors()
def apply_migrations_only(conninfo: str, schema: str) -> None:
    """Build ``schema`` by replaying every migration (no schema.sql); used by the identity test."""
    check_schema_name(schema)
    with psycopg.connect(conninfo) as conn:
        with conn.transaction():
            _prepare(conn, schema)
            for migration in migrations():
                conn.execute(migration.sql)
                _record(conn, migration)


@driver_errors()
def status(conninfo: str, schema: str) -> SchemaStatus:
    """Read-only report of the applied and pending migrations of ``schema``."""
    check_schema_name(schema)
    known = migrations()
    latest = known[-1].version if known else 0
    with psycopg.connect(conninfo) as conn:
        exists = conn.execute(query("migrate.version_table_exists"), [schema]).fetchone()
        applied: dict[int, tuple[str, str]] = {}
        if exists and exists[0]:
            # LOCAL: the server checks the schema through this too, possibly behind PgBouncer,
            # and a session-level SET would stay on whichever server session ran it.
            conn.execute(
                sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema))
            )
            applied = _applied(conn)
    by_version = {m.version: m for m in known}
    modified = tuple(
        v
        for v, (_, digest) in sorted(applied.items())
        if v in by_version and checksum(by_version[v].sql) != digest
    )
    return SchemaStatus(
        schema=schema,
        current=max(applied, default=0),
        latest=latest,
        applied=tuple((v, name) for v, (name, _) in sorted(applied.items())),
        pending=tuple((m.version, m.name) for m in known if m.version not in applied),
        modified=modified,
    )
