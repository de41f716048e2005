"""Backup, verification and restore of a modelyard schema as one self-checking archive file.

``backup`` exports a snapshot from a REPEATABLE READ transaction, runs ``pg_dump --snapshot`` on
it and computes every table's row count and checksum in the same transaction, so the manifest
describes exactly the rows in the dump even while clients keep writing. ``verify`` checks an
archive without a database. ``restore`` verifies first, then loads, re-checks and commits in one
transaction (restore.py). archive.py defines the file format.
"""

from __future__ import annotations

import importlib.metadata
import re
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from psycopg import sql

from modelyard.artifacts.store import BYTES_REMOVAL_LOCK
from modelyard.backup import checksums
from modelyard.backup.archive import DUMP_MEMBER, FileEntry, Manifest, file_digest, read_verified
from modelyard.backup.archive import write_archive as _write_archive
from modelyard.backup.artifacts import BlobFile, Installer, blob_file
from modelyard.backup.dump import find_tool, list_dump, run_pg_dump
from modelyard.backup.restore import check_applicable, restore_into
from modelyard.db.conninfo import check_schema_name
from modelyard.db.errors import driver_errors
from modelyard.db.migrate import _lock_key
from modelyard.errors import BackupCorrupted, BackupError
from modelyard.progress import NoProgress, Progress
from modelyard.sql import query

__all__ = ["Manifest", "backup", "restore", "verify"]

Connection = psycopg.Connection[tuple[object, ...]]
# TABLE DATA is a table's rows, TABLE ATTACH a partition's attachment (the audit log's months).
_TOC_TABLE = re.compile(r"^\d+; \d+ \d+ TABLE (?!DATA |ATTACH )(\S+) (\S+) ")


def _modelyard_version() -> str:
    try:
        return importlib.metadata.version("modelyard")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _server_version(conn: Connection) -> tuple[str, int]:
    row = conn.execute(query("backup.server_version")).fetchone()
    assert row is not None
    return str(row[0]), int(row[1]) // 10000  # type: ignore[call-overload]


def _schema_version(conn: Connection, schema: str) -> int:
    exists = conn.execute(query("backup.schema_exists"), [schema]).fetchone()
    if not (exists and exists[0]):
        raise BackupError(f"schema {schema} does not exist in this database; nothing to back up")
    table = sql.Identifier(schema, "schema_version")
    try:
        row = conn.execute(sql.SQL(query("backup.schema_version")).format(table=table)).fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise BackupError(f"schema {schema} has no modelyard version record") from exc
    return int(row[0]) if row else 0  # type: ignore[call-overload]


@driver_errors()
def backup(
    dsn: str,
    schema: str,
    path: Path,
    progress: Progress | None = None,
    *,
    pg_bin: Path | None = None,
    overwrite: bool = False,
) -> Manifest:
    """Write a consistent backup of ``schema`` to the archive file ``path``; returns its manifest.

    The file appears only when complete (written aside, then renamed over ``path``).
    """
    check_schema_name(schema)
    progress = progress or NoProgress()
    path = Path(path)
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; choose another name or pass --force")
    if not path.parent.is_dir():
        raise BackupError(f"directory {path.parent} does not exist")
    # The dump is staged next to the target: same filesystem, and the space is needed there anyway.
    with (
        tempfile.TemporaryDirectory(prefix=".modelyard-backup-", dir=path.parent) as work,
        psycopg.connect(dsn, autocommit=True, application_name="modelyard-backup") as conn,
    ):
        dump = Path(work) / DUMP_MEMBER
        conn.execute(query("backup.migration_lock"), [_lock_key(schema)])
        namespace, key = BYTES_REMOVAL_LOCK
        conn.execute(query("backup.artifact_bytes_lock"), {"namespace": namespace, "key": key})
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        conn.autocommit = False
        with conn.transaction():
            snapshot_row = conn.execute(query("backup.export_snapshot")).fetchone()
            assert snapshot_row is not None
            conn.execute(query("backup.no_timeouts"))
            server_version, server_major = _server_version(conn)
            tool = find_tool("pg_dump", [server_major], pg_bin)
            schema_version = _schema_version(conn, schema)
            tables = checksums.list_tables(conn, schema)
            dumped = conn.execute(query("backup.dumped_tables"), [schema]).fetchone()
            assert dumped is not None
            with progress.phase("pg_dump", int(str(dumped[0]))) as advance:
                run_pg_dump(tool, dsn, schema, str(snapshot_row[0]), dump, lambda: advance(1))
            digests = checksums.table_digests(conn, tables, progress)
            blobs = _file_blobs(conn, schema, {t.name for t in tables})
        size, sha256 = file_digest(dump)
        manifest = Manifest(
            modelyard_version=_modelyard_version(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            server_version=server_version,
            server_major=server_major,
            pg_dump_version=tool.version,
            pg_dump_major=tool.major,
            schema=schema,
            schema_version=schema_version,
            tables=tuple(digests),
            files=(FileEntry(DUMP_MEMBER, size, sha256), *(b.entries[0] for b in blobs)),
            artifacts=tuple(b.entries[1] for b in blobs),
        )
        checked = [(b.member, b.source, b.size, b.sha256) for b in blobs]
        if not checked:
            _write_archive(path, manifest, {DUMP_MEMBER: dump})
            return manifest
        with progress.phase("artifact files", len(checked)) as advance:
            _write_archive(path, manifest, {DUMP_MEMBER: dump}, checked, advance)
    return manifest


def _file_blobs(conn: Connection, schema: str, tables: set[str]) -> list[BlobFile]:
    """The file:// blobs referenced in the snapshot (none before the artifact migration)."""
    if not {"artifact_blob", "run_artifact"} <= tables:
        return []
    statement = sql.SQL(query("backup.file_blobs")).format(
        blob=sql.Identifier(schema, "artifact_blob"), path=sql.Identifier(schema, "run_artifact")
    )
    return [
        blob_file(str(url), bytes(digest), int(size), str(locator))  # type: ignore[call-overload]
        for url, digest, size, locator in conn.execute(statement).fetchall()
    ]


def _check_toc(manifest: Manifest, toc: list[str]) -> None:
    """The dump's table of contents must hold the manifest's schema and every table in it."""
    dumped = {m.group(2) for line in toc if (m := _TOC_TABLE.match(line))}
    schemas = {m.group(1) for line in toc if (m := _TOC_TABLE.match(line))}
    if schemas - {manifest.schema}:
        raise BackupCorrupted(f"the dump holds tables of another schema: {sorted(schemas)}")
    for table in manifest.tables:
        if table.name not in dumped:
            raise BackupCorrupted(f"the dump does not contain table {table.name}")


def _verify_into(
    path: Path,
    work: Path,
    pg_bin: Path | None,
    extract: Callable[[Manifest, str], Path | None] | None = None,
) -> tuple[Manifest, Path]:
    dump = work / DUMP_MEMBER
    manifest = read_verified(Path(path), extract_dump_to=dump, extract=extract)
    # Any pg_restore at least as new as the pg_dump that wrote the dump can read it.
    newer = range(manifest.pg_dump_major, manifest.pg_dump_major + 10)
    _check_toc(manifest, list_dump(find_tool("pg_restore", newer, pg_bin), dump))
    return manifest, dump


def verify(path: Path, *, pg_bin: Path | None = None) -> Manifest:
    """Check an archive without a database: layout, manifest, every sha256, the dump's TOC."""
    with tempfile.TemporaryDirectory(prefix="modelyard-verify-") as work:
        manifest, _ = _verify_into(Path(path), Path(work), pg_bin)
    return manifest


@driver_errors()
def restore(
    dsn: str,
    schema: str,
    path: Path,
    replace: bool = False,
    progress: Progress | None = None,
    *,
    pg_bin: Path | None = None,
    artifact_store: str | None = None,
) -> Manifest:
    """Verify the archive, then restore it into ``schema`` in one transaction (see restore.py).

    Refuses a non-empty schema unless ``replace``; raises :class:`BackupCorrupted` and restores
    nothing if the archive or the restored data disagree with the manifest. ``file://`` artifact
    files go back to the store their rows name, or, when ``artifact_store`` is a ``file://``
    URL, to that store, whose URL the rows then take (backup/artifacts.py).
    """
    check_schema_name(schema)
    progress = progress or NoProgress()
    installers: list[Installer] = []

    def installer(manifest: Manifest) -> Installer:
        if not installers:
            installers.append(Installer(manifest, artifact_store))
        return installers[0]

    def stage(manifest: Manifest, member: str) -> Path | None:
        # file:// blobs are written into their store's staging area as they are verified.
        return installer(manifest).staging_path(member)

    def before_commit(conn: Connection) -> None:
        files = installer(manifest)
        tables = {t.name for t in checksums.list_tables(conn, schema)}
        rows = _file_blobs(conn, schema, tables)
        files.check_rows({(b.store_url, b.locator, b.sha256, b.size) for b in rows})
        if files.moved is not None:
            recorded, target = files.moved
            statement = sql.SQL(query("backup.move_file_store")).format(
                blob=sql.Identifier(schema, "artifact_blob")
            )
            conn.execute(statement, {"recorded": recorded, "target": target})
        files.install()

    with tempfile.TemporaryDirectory(prefix="modelyard-restore-") as work:
        try:
            manifest, dump = _verify_into(Path(path), Path(work), pg_bin, stage)
            installer(manifest)  # a refused --artifact-store is refused before any loading
            with psycopg.connect(dsn, autocommit=True) as conn:
                _, server_major = _server_version(conn)
            check_applicable(manifest, schema, server_major)
            tool = find_tool("pg_restore", [server_major], pg_bin)
            # The blob files go into place once the restored rows matched the manifest, just
            # before the commit that makes rows referring to them visible.
            restore_into(
                dsn,
                schema,
                dump,
                manifest,
                tool,
                replace=replace,
                progress=progress,
                before_commit=before_commit,
            )
        finally:
            for staged in installers:
                staged.discard()
    return manifest
