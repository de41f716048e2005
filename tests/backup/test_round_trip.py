"""A backup of a populated database restores every row, and the archive describes it exactly."""

from __future__ import annotations

import tarfile
import threading
from pathlib import Path

import psycopg
import pytest
from backup_helpers import SCHEMA, contents, read_manifest, schema_exists

from modelyard.backup import backup, restore, verify
from modelyard.backup.archive import DUMP_MEMBER, MANIFEST_MEMBER
from modelyard.errors import BackupError


def test_round_trip_restores_every_row(populated: str, archive: Path, fresh_database: str) -> None:
    manifest = restore(fresh_database, SCHEMA, archive)

    source, restored = contents(populated), contents(fresh_database)
    assert restored == source
    # The populated data is what the round trip carried, not an empty schema.
    assert len(source["run"]) == 50 and len(source["model_alias"]) == 10
    with psycopg.connect(fresh_database) as conn:
        points = conn.execute(
            f"SELECT sum(cardinality(vals)) FROM {SCHEMA}.metric_chunk"
        ).fetchone()
    assert points is not None and points[0] == 100_000
    assert {t.name: t.rows for t in manifest.tables} == {k: len(v) for k, v in source.items()}


def test_restored_identity_sequences_continue_after_the_data(
    populated: str, archive: Path, fresh_database: str
) -> None:
    restore(fresh_database, SCHEMA, archive)
    with psycopg.connect(fresh_database) as conn:
        max_id = conn.execute(f"SELECT max(experiment_id) FROM {SCHEMA}.experiment").fetchone()
        new_id = conn.execute(
            f"INSERT INTO {SCHEMA}.experiment (workspace_id, name) VALUES (1, 'after restore') "
            "RETURNING experiment_id"
        ).fetchone()
    assert max_id is not None and new_id is not None and new_id[0] == max_id[0] + 1


def test_archive_layout_and_manifest(archive: Path, populated: str) -> None:
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert names == [MANIFEST_MEMBER, DUMP_MEMBER]
    manifest = read_manifest(archive)
    assert manifest.schema == SCHEMA and manifest.schema_version >= 1
    with psycopg.connect(populated) as conn:
        major = conn.execute("SELECT current_setting('server_version_num')::int / 10000")
        assert manifest.server_major == manifest.pg_dump_major == major.fetchone()[0]  # type: ignore[index]
    assert manifest.artifacts == ()
    assert [f.path for f in manifest.files] == [DUMP_MEMBER]


def test_verify_accepts_a_good_archive(archive: Path) -> None:
    manifest = verify(archive)
    assert manifest == read_manifest(archive)
    assert manifest.total_rows > 100


def test_same_rows_give_same_checksums(populated: str, archive: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.backup"
    backup(populated, SCHEMA, again)
    assert read_manifest(again).tables == read_manifest(archive).tables


def test_backup_refuses_to_overwrite_unless_forced(populated: str, archive: Path) -> None:
    before = archive.read_bytes()
    with pytest.raises(BackupError, match="already exists"):
        backup(populated, SCHEMA, archive)
    assert archive.read_bytes() == before
    backup(populated, SCHEMA, archive, overwrite=True)
    verify(archive)


def test_backup_of_a_missing_schema_writes_no_file(fresh_database: str, tmp_path: Path) -> None:
    target = tmp_path / "none.backup"
    with pytest.raises(BackupError, match="does not exist"):
        backup(fresh_database, SCHEMA, target)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_cannot_make_manifest_and_dump_disagree(
    populated: str, tmp_path: Path, fresh_database: str
) -> None:
    """Rows committed while pg_dump and the checksums run are in neither or in both."""
    stop = threading.Event()
    written = 0

    def write() -> None:
        nonlocal written
        with psycopg.connect(populated, autocommit=True) as conn:
            while not stop.is_set():
                conn.execute(
                    f"INSERT INTO {SCHEMA}.experiment_tag "
                    "(experiment_id, key, value, workspace_id) "
                    f"SELECT min(experiment_id), 'concurrent-' || %s, 'v', 1 "
                    f"FROM {SCHEMA}.experiment",
                    [written],
                )
                written += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        path = tmp_path / "busy.backup"
        manifest = backup(populated, SCHEMA, path)
    finally:
        stop.set()
        writer.join()
    tags = {t.name: t.rows for t in manifest.tables}["experiment_tag"]
    assert written > 0 and tags < 30 + written  # the writer kept going after the snapshot
    # restore() recomputes every checksum and would fail if the dump held other rows.
    restore(fresh_database, SCHEMA, path)
    assert schema_exists(fresh_database)


def test_table_without_primary_key_round_trips(
    populated: str, tmp_path: Path, fresh_database: str
) -> None:
    """Rows of a key-less table (none in schema.sql today) are ordered by their whole text."""
    with psycopg.connect(populated) as conn:
        conn.execute(f"CREATE TABLE {SCHEMA}.keyless (body text, n integer)")
        conn.execute(
            f"INSERT INTO {SCHEMA}.keyless SELECT 'row ' || (i % 7), i % 3 "
            "FROM generate_series(1, 500) AS i"
        )
    path = tmp_path / "keyless.backup"
    manifest = backup(populated, SCHEMA, path)
    assert {t.name: t.rows for t in manifest.tables}["keyless"] == 500
    restore(fresh_database, SCHEMA, path)
    with psycopg.connect(fresh_database) as conn:
        rows = conn.execute(f"SELECT body, n FROM {SCHEMA}.keyless ORDER BY 1, 2").fetchall()
    with psycopg.connect(populated) as conn:
        assert (
            rows == conn.execute(f"SELECT body, n FROM {SCHEMA}.keyless ORDER BY 1, 2").fetchall()
        )
