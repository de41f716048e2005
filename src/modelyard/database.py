"""Finds the database a command works on: the configured URL, or the embedded PostgreSQL.

With no database URL, modelyard uses its embedded PostgreSQL in the data directory: it attaches to
the server already running there or starts one for the length of the command, and creates the
``ml_models`` database on first use. Commands work as the embedded superuser, which owns the
schema and runs the migrations; the server's pool connects as the runtime role
(``modelyard_runtime``), made and granted here on every serving start, so row-level security
binds the server as it does in a deployment set up by ``modelyard db bootstrap``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors
from psycopg import sql

from modelyard.bootstrap.runtime import RUNTIME_ROLE, check_serving_role, ensure_runtime_role
from modelyard.db.conninfo import for_pool, with_database
from modelyard.db.migrate import status, upgrade
from modelyard.errors import DatabaseUnavailable, SchemaOutdated, UnsafeDatabaseRole
from modelyard.settings import Settings

log = logging.getLogger(__name__)

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


def require_rls_binding_role(dsn: str, settings: Settings) -> None:
    """Warn when the server's role is not bound by row-level security; with authentication on,
    refuse unless ``settings.allow_rls_bypass`` (``--allow-rls-bypass``) says otherwise.

    Workspace isolation is enforced by PostgreSQL's policies, which a superuser, a BYPASSRLS
    role or a table's owner skip: connected so, a bug in a handler could show one workspace's
    data to another, and only the application's own filters would stand in the way.
    """
    # The catalog query names pg_catalog itself: no search path, so no startup options, which
    # a pooler in front of the database (PgBouncer) would refuse.
    risk = check_serving_role(for_pool(dsn), settings.schema)
    if risk.safe:
        return
    if settings.auth and not settings.allow_rls_bypass:
        raise UnsafeDatabaseRole(
            f"refusing to serve with authentication on: {risk.describe()}, so row-level "
            "security does not isolate workspaces; connect as a role made by `modelyard db "
            "bootstrap` (the app role), or pass --allow-rls-bypass (MODELYARD_ALLOW_RLS_BYPASS=1)",
            role=risk.role,
        )
    log.warning(
        "database role bypasses row-level security: %s; workspaces are isolated only by the "
        "application's queries (docs/security.md)",
        risk.describe(),
        extra={"role": risk.role},
    )


@contextmanager
def open_database(
    settings: Settings, *, for_serving: bool = False, as_owner: bool = False
) -> Iterator[str]:
    """The DSN to work on, valid inside the block.

    ``for_serving`` prepares the database for the server. The embedded database is modelyard's
    own, so its schema is brought up to date on start, and the DSN is the runtime role's. An
    external database's schema changes only by an explicit ``modelyard db upgrade``, typically
    run as the owner role while the server connects as a role that cannot change the schema;
    the server just checks it. ``as_owner`` keeps the embedded superuser's DSN while serving's
    preparation is done (the admin commands: they work across workspaces, as the owner).
    """
    if settings.database_url is not None:
        dsn = settings.database_url
        try:
            if for_serving:
                require_current_schema(dsn, settings.schema)
            if for_serving and not as_owner:  # the admin commands are meant to be the owner
                require_rls_binding_role(dsn, settings)
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
        if for_serving and not as_owner:
            password = embedded.runtime_password()
            with psycopg.connect(dsn, autocommit=True) as conn:
                # After every upgrade: also grants what the migrations just added, and makes the
                # role on a data directory from before it existed.
                ensure_runtime_role(
                    conn,
                    RUNTIME_ROLE,
                    password,
                    database=settings.database_name,
                    schema=settings.schema,
                    owner=server.user,
                )
            dsn = server.as_user(RUNTIME_ROLE.name, password).dsn(settings.database_name)
        yield dsn
