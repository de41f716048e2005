"""Backups carry the artifacts of the postgresql and file:// stores, and restore checks them."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tarfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from backup_helpers import SCHEMA, rewrite, schema_exists
from test_tools import Recorder

from modelyard.artifacts.store import ArtifactStore, open_backend
from modelyard.backup import backup, restore, verify
from modelyard.backup.archive import store_key
from modelyard.db.pool import open_pool
from modelyard.errors import BackupCorrupted, BackupError, RestoreRefused
from modelyard.store import Store

FILES = {
    "model/weights.bin": os.urandom(2 * 1024 * 1024 + 5),
    "model/MLmodel": b'{"flavor": "test"}',
    "copy/weights.bin": b"",  # replaced below by the same bytes as model/weights.bin
    "empty.txt": b"",
}
FILES["copy/weights.bin"] = FILES["model/weights.bin"]  # dedup: one blob, two paths


async def _log(dsn: str, store_url: str) -> uuid.UUID:
    """A run holding FILES in the store ``store_url``."""
    store = await Store.open(dsn, SCHEMA)
    try:
        experiment = await store.experiments.create("backed-up")
        run_id = uuid.UUID((await store.runs.create(experiment.experiment_id)).run_id)
        artifacts = ArtifactStore(store.pool, open_backend(store_url, store.pool))

        async def body(data: bytes) -> Any:
            yield data

        for path, data in FILES.items():
            await artifacts.put(run_id, path, body(data))
        return run_id
    finally:
        await store.close()


async def _read_all(dsn: str, store_url: str, run_id: uuid.UUID) -> dict[str, bytes]:
    """Every file of the run, read (and sha256-verified) through the artifact store."""
    pool = await open_pool(dsn, SCHEMA)
    try:
        artifacts = ArtifactStore(pool, open_backend(store_url, pool))
        found = {}
        for entry in await artifacts.walk(run_id):
            _, chunks = await artifacts.open(run_id, entry.path)
            found[entry.path] = b"".join([chunk async for chunk in chunks])
        return found
    finally:
        await pool.close()


def test_postgresql_store_artifacts_are_in_the_dump_and_restored(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    run_id = asyncio.run(_log(database_url, "postgresql"))
    archive = tmp_path / "pg.backup"
    manifest = backup(database_url, SCHEMA, archive)
    rows = {t.name: t.rows for t in manifest.tables}
    assert rows["artifact_blob"] == 3 and rows["run_artifact"] == 4
    assert rows["artifact_chunk"] == 3 + 1  # 2 MiB + 5 bytes is three chunks, MLmodel one
    assert manifest.artifacts == ()  # nothing outside the dump

    restore(fresh_database, SCHEMA, archive)
    assert asyncio.run(_read_all(fresh_database, "postgresql", run_id)) == FILES


def test_file_store_blobs_go_in_the_archive_and_come_back(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    store_url = f"file://{root}"
    run_id = asyncio.run(_log(database_url, store_url))
    archive = tmp_path / "file.backup"
    recorder = Recorder()
    manifest = backup(database_url, SCHEMA, archive, recorder)
    assert recorder.phases["artifact files"] == (3, 3)  # a bar for the copy of the files

    digests = {hashlib.sha256(data).hexdigest() for data in FILES.values()}
    assert {a.uri.rsplit("/", 1)[1] for a in manifest.artifacts} == digests
    assert {a.store for a in manifest.artifacts} == {store_url}
    sizes = {f.path: (f.size, f.sha256) for f in manifest.files}
    for artifact in manifest.artifacts:
        digest = artifact.uri.rsplit("/", 1)[1]
        assert artifact.path == f"artifacts/{store_key(store_url)}/{artifact.uri}"
        assert sizes[artifact.path][1] == digest
    with tarfile.open(archive) as tar:
        members = set(tar.getnames())
    assert {a.path for a in manifest.artifacts} <= members
    assert verify(archive).artifacts == manifest.artifacts

    shutil.rmtree(root)  # the store is lost: the archive alone brings it back
    restore(fresh_database, SCHEMA, archive)
    assert asyncio.run(_read_all(fresh_database, store_url, run_id)) == FILES
    assert list((root / "staging").iterdir()) == []


def _flip_member_byte(archive: Path, name: str) -> None:
    with tarfile.open(archive) as tar:
        member = tar.getmember(name)
        offset = member.offset_data + member.size // 2
    with archive.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([byte ^ 0x01]))


def test_a_corrupted_artifact_in_the_archive_is_a_clear_error_and_restores_nothing(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    asyncio.run(_log(database_url, f"file://{root}"))
    archive = tmp_path / "file.backup"
    manifest = backup(database_url, SCHEMA, archive)
    weights = hashlib.sha256(FILES["model/weights.bin"]).hexdigest()
    damaged = next(a.path for a in manifest.artifacts if a.uri.endswith(weights))
    _flip_member_byte(archive, damaged)

    with pytest.raises(BackupCorrupted, match=f"{damaged} is corrupted: its sha256"):
        verify(archive)
    shutil.rmtree(root)
    from test_cli import modelyard

    restored = modelyard("restore", str(archive), database_url=fresh_database)
    assert (restored.returncode, restored.stderr) == (
        1,
        f"error: {damaged} is corrupted: its sha256 does not match the manifest\n",
    )
    with pytest.raises(BackupCorrupted, match=f"{damaged} is corrupted"):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)
    staged = list((root / "staging").iterdir()) if (root / "staging").exists() else []
    assert staged == []
    assert not (root / "blobs").exists()  # nothing installed from a bad archive


def test_an_artifact_entry_naming_a_path_outside_the_blobs_is_refused(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    asyncio.run(_log(database_url, f"file://{root}"))
    archive = tmp_path / "file.backup"
    backup(database_url, SCHEMA, archive)

    def escape(body: dict[str, Any]) -> dict[str, Any]:
        body["artifacts"][0]["uri"] = "../../etc/cron.d/x"
        return body

    rewrite(archive, manifest=escape, reseal=True)
    with pytest.raises(BackupCorrupted, match="does not name a blob of a file:// store"):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)


def test_a_damaged_store_gives_no_archive(database_url: str, tmp_path: Path) -> None:
    root = tmp_path / "store"
    asyncio.run(_log(database_url, f"file://{root}"))
    weights = hashlib.sha256(FILES["model/weights.bin"]).hexdigest()
    blob = root / "blobs" / weights[:2] / weights[2:4] / weights
    data = bytearray(blob.read_bytes())
    data[100] ^= 0xFF
    blob.write_bytes(bytes(data))
    archive = tmp_path / "bad.backup"
    with pytest.raises(BackupError, match="does not match its sha256"):
        backup(database_url, SCHEMA, archive)
    assert not archive.exists()
    blob.unlink()
    with pytest.raises(BackupError, match="is missing from its store"):
        backup(database_url, SCHEMA, archive)
    assert not archive.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_gc_removes_no_blob_file_while_a_backup_holds_the_lock(
    database_url: str, tmp_path: Path
) -> None:
    """The lock a backup holds shared from before its snapshot keeps gc's sweep waiting."""
    from modelyard.artifacts.store import BYTES_REMOVAL_LOCK
    from modelyard.db.conninfo import with_schema

    async def scenario(root: Path) -> None:
        store_url = f"file://{root}"
        run_id = await _log(database_url, store_url)
        pool = await open_pool(database_url, SCHEMA)
        artifacts = ArtifactStore(pool, open_backend(store_url, pool))
        await artifacts.delete(run_id, "model")  # MLmodel's blob is unreferenced now
        dsn = with_schema(database_url, SCHEMA)
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as holder:
            await holder.execute("SELECT pg_advisory_lock_shared(%s, %s)", BYTES_REMOVAL_LOCK)
            from modelyard.artifacts.gc import collect_store

            async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                task = asyncio.create_task(
                    collect_store(conn, artifacts.backend, uploads_older_than=3600)
                )
                async with asyncio.timeout(30):
                    while not await (
                        await holder.execute(
                            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND %s = ANY("
                            "pg_blocking_pids(pid))",
                            [conn.info.backend_pid, holder.info.backend_pid],
                        )
                    ).fetchone():
                        await asyncio.sleep(0.01)  # polling PostgreSQL for the wait
                mlmodel = hashlib.sha256(FILES["model/MLmodel"]).hexdigest()
                assert (root / "blobs" / mlmodel[:2] / mlmodel[2:4] / mlmodel).exists()
                await holder.execute("SELECT pg_advisory_unlock_shared(%s, %s)", BYTES_REMOVAL_LOCK)
                report = await task
        assert [b.what for b in report.blobs] == [f"blob {mlmodel}"]
        assert not (root / "blobs" / mlmodel[:2] / mlmodel[2:4] / mlmodel).exists()
        await pool.close()

    asyncio.run(scenario(tmp_path / "store"))


def _blob_stores(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f"SELECT DISTINCT store_url FROM {SCHEMA}.artifact_blob").fetchall()
    return {str(row[0]) for row in rows}


def test_restore_to_another_named_file_store_moves_files_and_rows(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    old_root, new_root = tmp_path / "old-store", tmp_path / "new-store"
    run_id = asyncio.run(_log(database_url, f"file://{old_root}"))
    archive = tmp_path / "file.backup"
    backup(database_url, SCHEMA, archive)
    shutil.rmtree(old_root)

    restore(fresh_database, SCHEMA, archive, artifact_store=f"file://{new_root}")
    assert not old_root.exists()  # nothing written where the archive says the files were
    assert _blob_stores(fresh_database) == {f"file://{new_root}"}
    assert asyncio.run(_read_all(fresh_database, f"file://{new_root}", run_id)) == FILES


def test_a_non_file_artifact_store_restores_files_where_their_rows_say(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    root = tmp_path / "store"
    run_id = asyncio.run(_log(database_url, f"file://{root}"))
    archive = tmp_path / "file.backup"
    backup(database_url, SCHEMA, archive)
    shutil.rmtree(root)
    restore(fresh_database, SCHEMA, archive, artifact_store="postgresql")  # the CLI's default
    assert asyncio.run(_read_all(fresh_database, f"file://{root}", run_id)) == FILES


def _relocate_in_manifest(archive: Path, store_url: str) -> None:
    """Point every artifact of the archive at ``store_url``, consistently and resealed: what a
    forged archive would do to make restore write somewhere else."""
    with tarfile.open(archive) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    renamed = {}

    def relocate(body: dict[str, Any]) -> dict[str, Any]:
        for artifact in body["artifacts"]:
            new = f"artifacts/{store_key(store_url)}/{artifact['uri']}"
            renamed[artifact["path"]] = new
            artifact["path"], artifact["store"] = new, store_url
        for entry in body["files"]:
            entry["path"] = renamed.get(entry["path"], entry["path"])
        return body

    rewrite(archive, manifest=relocate, reseal=True)
    rewrite(
        archive,
        add={new: members[old] for old, new in renamed.items()},
        drop=tuple(renamed),
    )


def test_an_archive_naming_another_place_than_its_rows_restores_nothing(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    root, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    asyncio.run(_log(database_url, f"file://{root}"))
    archive = tmp_path / "file.backup"
    backup(database_url, SCHEMA, archive)
    shutil.rmtree(root)
    _relocate_in_manifest(archive, f"file://{elsewhere}")
    assert verify(archive)  # self-consistent: only the rows in the dump tell it apart

    with pytest.raises(BackupCorrupted, match="do not match the blob rows of its dump"):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)
    assert not (elsewhere / "blobs").exists() and not root.exists()
    assert list((elsewhere / "staging").iterdir()) == []


def test_a_symbolic_link_out_of_the_store_is_refused(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    root, outside = tmp_path / "store", tmp_path / "outside"
    asyncio.run(_log(database_url, f"file://{root}"))
    archive = tmp_path / "file.backup"
    backup(database_url, SCHEMA, archive)
    shutil.rmtree(root)
    root.mkdir()
    outside.mkdir()
    (root / "blobs").symlink_to(outside)  # planted in the store: would lead writes out of it

    with pytest.raises(RestoreRefused, match="leads outside the artifact store"):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)
    assert list(outside.iterdir()) == []


def test_several_recorded_stores_cannot_be_moved_into_one(
    database_url: str, fresh_database: str, tmp_path: Path
) -> None:
    asyncio.run(_log(database_url, f"file://{tmp_path / 'a'}"))
    with psycopg.connect(database_url) as conn:  # _log names its experiment the same each time
        conn.execute(f"UPDATE {SCHEMA}.experiment SET name = 'first' WHERE name = 'backed-up'")
    asyncio.run(_log(database_url, f"file://{tmp_path / 'b'}"))
    archive = tmp_path / "two.backup"
    backup(database_url, SCHEMA, archive)
    with pytest.raises(RestoreRefused, match="2 file:// stores"):
        restore(fresh_database, SCHEMA, archive, artifact_store=f"file://{tmp_path / 'c'}")
    assert not schema_exists(fresh_database)
    assert not (tmp_path / "c").exists()
