"""One embedded PostgreSQL for the whole run, with a database per system under test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from modelyard.embedded import EmbeddedPostgres, Server

# Production-like settings for a 2-core, ~20 GB machine: durability on (fsync and synchronous
# commit are left at their defaults), memory sized for the data set, and checkpoints spaced so a
# checkpoint storm does not land in the middle of one system's ingest and not the other's.
SETTINGS: dict[str, str | int | bool] = {
    "shared_buffers": "1GB",
    "effective_cache_size": "4GB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "max_connections": 200,
    "max_wal_size": "8GB",
    "checkpoint_timeout": "15min",
    "wal_compression": "on",
}


@dataclass(frozen=True)
class Postgres:
    """The running server: an admin DSN and what the report says about it."""

    server: Server
    version: str
    settings: dict[str, str]

    @property
    def admin_dsn(self) -> str:
        return self.server.dsn()

    def dsn(self, dbname: str) -> str:
        """A ``postgresql://`` URI (MLflow's SQLAlchemy needs the URI form)."""
        return self.server.dsn(dbname)

    def create_database(self, name: str) -> str:
        """A new empty database ``name`` (dropped first if a previous run left it)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(name)
                )
            )
        return self.dsn(name)

    def vacuum_analyze(self, dbname: str) -> None:
        """Bring statistics and the visibility map up to date after a bulk load."""
        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[Postgres]:
    """Start PostgreSQL in ``data_dir`` for the block, stop it afterwards."""
    with EmbeddedPostgres(data_dir, settings=SETTINGS, timeout=120).session() as server:
        admin = server.dsn()
        with psycopg.connect(admin) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            version = str(row[0]) if row else "?"
            shown: dict[str, str] = {}
            for name in (*SETTINGS, "fsync", "synchronous_commit"):
                setting = conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()
                shown[name] = str(setting[0]) if setting else "?"
        yield Postgres(server=server, version=version, settings=shown)
