"""Restores a verified archive into a database: all or nothing, checked against the manifest.

Everything happens in one transaction on one connection: the migration advisory lock, the
emptiness check, ``DROP SCHEMA`` (with ``replace``), the extensions, the schema and data from
pg_restore's script (script.py), ANALYZE, and the recomputed checksums. Only if every table
matches the manifest does it commit; otherwise the database is left exactly as it was. Readers of
the old schema wait on its locks meanwhile and never see it half-replaced.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from modelyard.backup import checksums
from modelyard.backup.archive import Manifest
from modelyard.backup.dump import Tool, failure, restore_script
from modelyard.backup.script import apply_script
from modelyard.db.migrate import REQUIRED_EXTENSIONS, _lock_key
from modelyard.errors import BackupCorrupted, BackupError, RestoreRefused
from modelyard.progress import Progress
from modelyard.sql import migrations, query

Connection = psycopg.Connection[tuple[object, ...]]


def latest_schema_version() -> int:
    known = migrations()
    return known[-1].version if known else 0


def check_applicable(manifest: Manifest, schema: str, server_major: int) -> None:
    """Refuse archives this modelyard or this server cannot take, before touching anything."""
    if manifest.schema != schema:
        raise RestoreRefused(
            f"the archive holds schema {manifest.schema}, not {schema}; "
            f"restore with --schema {manifest.schema}"
        )
    latest = latest_schema_version()
    if manifest.schema_version > latest:
        raise RestoreRefused(
            f"the archive's schema version {manifest.schema_version} is newer than this "
            f"modelyard knows ({latest}); upgrade modelyard first"
        )
    if manifest.pg_dump_major > server_major:
        raise RestoreRefused(
            f"the archive was dumped from PostgreSQL {manifest.server_major}; it cannot be "
            f"restored into the older PostgreSQL {server_major}"
        )


def _clear_target(conn: Connection, schema: str, replace: bool) -> None:
    exists = conn.execute(query("backup.schema_exists"), [schema]).fetchone()
    if not (exists and exists[0]):
        return
    found = conn.execute(query("backup.schema_object_count"), {"s": schema}).fetchone()
    objects = int(found[0]) if found else 0  # type: ignore[call-overload]
    if objects and not replace:
        raise RestoreRefused(
            f"schema {schema} is not empty ({objects} objects); pass --replace to drop it "
            "and restore in its place"
        )
    conn.execute(sql.SQL(query("backup.drop_schema")).format(schema=sql.Identifier(schema)))


def _load(conn: Connection, tool: Tool, dump: Path, manifest: Manifest, progress: Progress) -> None:
    stderr = dump.with_name("pg_restore.stderr")
    proc = restore_script(tool, dump, stderr)
    assert proc.stdout is not None
    try:
        with progress.phase("restore", manifest.total_rows) as advance:
            apply_script(conn, proc.stdout, advance)
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.stdout.close()
        returncode = proc.wait()
    if returncode != 0:
        raise failure(tool, returncode, stderr.read_text(errors="replace").splitlines())


def restore_into(
    dsn: str,
    schema: str,
    dump: Path,
    manifest: Manifest,
    tool: Tool,
    *,
    replace: bool,
    progress: Progress,
    before_commit: Callable[[psycopg.Connection[Any]], object] | None = None,
) -> None:
    """Load ``dump`` into ``schema`` of ``dsn`` in one transaction, or leave it untouched.

    ``before_commit`` runs once the restored rows matched the manifest, inside the transaction,
    with its connection.
    """
    with psycopg.connect(dsn, application_name="modelyard-restore") as conn:
        with conn.transaction():
            conn.execute(query("backup.migration_xact_lock"), [_lock_key(schema)])
            conn.execute(query("backup.no_timeouts"))
            _clear_target(conn, schema, replace)
            for extension in REQUIRED_EXTENSIONS:
                conn.execute(
                    sql.SQL(query("backup.ensure_extension")).format(
                        extension=sql.Identifier(extension)
                    )
                )
            try:
                _load(conn, tool, dump, manifest, progress)
            except psycopg.Error as exc:
                raise BackupError(f"restoring the dump failed: {exc}") from exc
            except subprocess.SubprocessError as exc:
                raise BackupError(f"running {tool.path.name} failed: {exc}") from exc
            tables = checksums.list_tables(conn, schema)
            difference = checksums.compare(
                manifest.tables, checksums.table_digests(conn, tables, progress)
            )
            if difference is not None:
                raise BackupCorrupted(f"restored data does not match the archive: {difference}")
            # A restored table has no planner statistics until analysed.
            for table in tables:
                conn.execute(sql.SQL(query("backup.analyze")).format(table=table.identifier))
            if before_commit is not None:
                before_commit(conn)
