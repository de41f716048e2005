"""Finds the database a command works on: the configured URL, or the embedded PostgreSQL.

With no database URL, modelyard uses its embedded PostgreSQL in the data directory: it attaches to
the server already running there or starts one for the length of the command, and creates the
``ml_models`` database on first use.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors
from psycopg import sql

from modelyard.db.conninfo import with_database
from modelyard.db.migrate import status, upgrade
from modelyard.errors import DatabaseUnavailable, SchemaOutdated
from modelyard.settings import Settings

# Server settings of the embedded PostgreSQL, on top of PostgreSQL's defaults.
EMBEDDED_SETTINGS = {
    # Room for several server workers with their pools plus CLI commands.
    "max_connections": 200,
    # The data directory is on a local disk, usually an SSD: random reads cost about as much as
    # sequential ones, and the planner should know it to use the key/value indexes of search.
    "random_page_cost": 1.1,
}


def ensure_database(admin_dsn: str, name: str) -> str:
    """Create database ``name`` (UTF8, from template0) if it is missing; return its DSN."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not found:
            try:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                        sql.Identifier(name)
                    )
                )
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                pass  # another modelyard command created it between our check and now
    return with_database(admin_dsn, name)


def require_current_schema(dsn: str, schema: str) -> None:
    """Refuse to serve a database that lacks a migration this modelyard needs.

    A schema that is newer (migrated by the next release) is fine: migrations only expand, so
    the previous release's servers keep working during a rolling upgrade.
    """
    report = status(dsn, schema)
    if report.pending:
        raise SchemaOutdated(
            f"schema {schema} is at version {report.current}, this modelyard needs "
            f"{report.latest}: run `modelyard db upgrade` (as the schema owner)",
            current=report.current,
            latest=report.latest,
        )


@contextmanager
def open_database(settings: Settings, *, for_serving: bool = False) -> Iterator[str]:
    """The DSN to work on, valid inside the block.

    ``for_serving`` prepares the database for the server. The embedded database is modelyard's
    own, so its schema is brought up to date on start. An external database's schema changes
    only by an explicit ``modelyard db upgrade``, typically run as the owner role while the
    server connects as a role that cannot change the schema; the server just checks it.
    """
    if settings.database_url is not None:
        dsn = settings.database_url
        try:
            if for_serving:
                require_current_schema(dsn, settings.schema)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"cannot connect to the database: {exc}") from exc
        yield dsn
        return
    from modelyard.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(
        settings.data_dir, settings=EMBEDDED_SETTINGS, run_as=settings.pg_user
    )
    with embedded.session() as server:
        dsn = ensure_database(server.dsn(), settings.database_name)
        if for_serving:
            upgrade(dsn, settings.schema)
        yield dsn
