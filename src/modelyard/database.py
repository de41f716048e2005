"""Finds the database a command works on: the configured URL, or the embedded PostgreSQL.

With no database URL, modelyard uses its embedded PostgreSQL in the data directory: it attaches to
the server already running there or starts one for the length of the command, and creates the
``ml_models`` database on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from modelyard.db.conninfo import with_database
from modelyard.db.migrate import upgrade
from modelyard.errors import DatabaseUnavailable
from modelyard.settings import Settings


def ensure_database(admin_dsn: str, name: str) -> str:
    """Create database ``name`` (UTF8, from template0) if it is missing; return its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not found:
            conn.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(name)
                )
            )
    return with_database(admin_dsn, name)


@contextmanager
def open_database(settings: Settings, *, apply_schema: bool = False) -> Iterator[str]:
    """The DSN to work on, valid inside the block; optionally brings the schema up to date."""
    if settings.database_url is not None:
        dsn = settings.database_url
        try:
            if apply_schema:
                upgrade(dsn, settings.schema)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        yield dsn
        return
    from modelyard.embedded import EmbeddedPostgres

    with EmbeddedPostgres(settings.data_dir).session() as server:
        dsn = ensure_database(server.dsn(), settings.database_name)
        if apply_schema:
            upgrade(dsn, settings.schema)
        yield dsn
