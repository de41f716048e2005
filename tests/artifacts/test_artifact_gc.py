"""Artifact garbage collection on every store: what goes, what stays, dry runs, the upload race.

The races are made deterministic with events inside a real backend (a subclass that stops at
a named step) and checked through PostgreSQL's own lock views; nothing waits for a fixed time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest

from modelyard.artifacts.backend import Backend, BlobRef, Conn, Staged
from modelyard.artifacts.gc import collect_store
from modelyard.artifacts.store import ArtifactStore
from modelyard.db.conninfo import with_schema
from modelyard.errors import NotFound
from modelyard.gc import collect
from modelyard.store import Store
from pool_support import pooled

pytestmark = pytest.mark.anyio

SCHEMA = "ml_model_schema"
NOW = dt.datetime.now(dt.UTC)
MONTH_AGO = NOW - dt.timedelta(days=30)
HERE = Path(__file__).parent


async def _body(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _read(artifacts: ArtifactStore, run_id: uuid.UUID, path: str) -> bytes:
    _, chunks = await artifacts.open(run_id, path)
    return b"".join([chunk async for chunk in chunks])


async def _rows(store: Store, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(statement, params)
        return await cur.fetchall() if cur.description else []


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Bytes:
    """What the backend of a store physically holds, to check removals beyond the index."""

    def __init__(self, store_url: str, request: pytest.FixtureRequest, database_url: str) -> None:
        self.url = store_url
        self.request = request
        self.database_url = database_url

    def present(self, blob: tuple[int, str | None, bool]) -> bool:
        """Whether the bytes of ``blob`` (as _blob_of returned it) are still in the store."""
        blob_id, locator, _ = blob
        if self.url.startswith("file://"):
            assert locator is not None
            return (Path(self.url[len("file://") :]) / locator).exists()
        if self.url.startswith("s3://"):
            bucket = self.url[len("s3://") :].split("/", 1)[0]
            client = self.request.getfixturevalue("s3_endpoint").client()
            found = client.list_objects_v2(Bucket=bucket, Prefix=locator)
            return int(found.get("KeyCount", 0)) > 0
        with psycopg.connect(with_schema(self.database_url, SCHEMA)) as conn:
            found = conn.execute("SELECT 1 FROM artifact_chunk WHERE blob_id = %s", [blob_id])
            return found.fetchone() is not None

    def leftovers(self) -> list[str]:
        """Partial uploads in the backend's staging area."""
        if self.url.startswith("file://"):
            staging = Path(self.url[len("file://") :]) / "staging"
            return [p.name for p in staging.iterdir()] if staging.is_dir() else []
        if self.url.startswith("s3://"):
            bucket = self.url[len("s3://") :].split("/", 1)[0]
            client = self.request.getfixturevalue("s3_endpoint").client()
            uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            return [u["Key"] for u in uploads]
        return []


@pytest.fixture
def held(store_url: str, request: pytest.FixtureRequest, database_url: str) -> Bytes:
    return Bytes(store_url, request, database_url)


@pytest.fixture
def s3_env(store_url: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a gc process needs to reach the test's S3 endpoint (boto3's own)."""
    if store_url.startswith("s3://"):
        for key, value in request.getfixturevalue("s3_endpoint").env().items():
            monkeypatch.setenv(key, value)


async def _gc(database_url: str, store_url: str, **kwargs: Any) -> Any:
    return await collect(
        database_url,
        SCHEMA,
        deleted_before=MONTH_AGO,
        receipts_before=MONTH_AGO,
        artifact_store=store_url,
        **kwargs,
    )


def _store_report(report: Any, store_url: str) -> Any:
    return next(s for s in report.stores if s.store_url == store_url)


async def _blob_of(store: Store, data: bytes) -> tuple[int, str | None, bool]:
    rows = await _rows(
        store,
        "SELECT blob_id, locator, condemned_at IS NOT NULL FROM artifact_blob WHERE sha256 = %s",
        [hashlib.sha256(data).digest()],
    )
    assert len(rows) == 1, rows
    return rows[0][0], rows[0][1], rows[0][2]


async def test_what_must_go_goes_and_what_is_referenced_stays(
    artifacts: ArtifactStore,
    store: Store,
    database_url: str,
    store_url: str,
    held: Bytes,
    s3_env: None,
) -> None:
    exp = await store.experiments.create("gc")
    purged_run = uuid.UUID((await store.runs.create(exp.experiment_id)).run_id)
    live_run = uuid.UUID((await store.runs.create(exp.experiment_id)).run_id)
    pinned_run = uuid.UUID((await store.runs.create(exp.experiment_id)).run_id)
    names = "only shared old new gone lm pin kept".split()
    data = {name: os.urandom(1000 + i) for i, name in enumerate(names)}

    await artifacts.put(purged_run, "only.bin", _body(data["only"]))
    await artifacts.put(purged_run, "shared.bin", _body(data["shared"]))
    await artifacts.put(live_run, "shared.bin", _body(data["shared"]))
    await artifacts.put(live_run, "kept.bin", _body(data["kept"]))
    await artifacts.put(live_run, "over.bin", _body(data["old"]))
    await artifacts.put(live_run, "over.bin", _body(data["new"]))  # "old" loses its reference
    await artifacts.put(live_run, "gone.bin", _body(data["gone"]))
    await artifacts.delete(live_run, "gone.bin")
    # A logged model deleted long ago owns its directory; one registered as a version pins its
    # (deleted) run, whose files are the version's.
    dead_model = await store.logged_models.create("dead", source_run_id=live_run.hex)
    await artifacts.put(live_run, f"{dead_model.artifact_path}/MLmodel", _body(data["lm"]))
    pinned_model = await store.logged_models.create("pinned", source_run_id=pinned_run.hex)
    await artifacts.put(pinned_run, f"{pinned_model.artifact_path}/MLmodel", _body(data["pin"]))
    await store.registry.create_model("prod")
    await store.registry.create_version(
        "prod", pinned_model.artifact_uri or "x", model_id=pinned_model.model_id
    )
    await _rows(
        store,
        "UPDATE logged_model SET lifecycle_stage = 'deleted', updated_at = now() - interval "
        "'40 days' WHERE model_id = %s",
        [dead_model.model_id],
    )
    for run_id in (purged_run, pinned_run):
        await store.runs.delete(run_id.hex)
    await _rows(
        store,
        "UPDATE run SET deleted_at = now() - interval '40 days' WHERE lifecycle_stage = 'deleted'",
    )

    doomed = {_digest(data[name]): len(data[name]) for name in ("only", "old", "gone", "lm")}
    blobs = {name: await _blob_of(store, data[name]) for name in ("only", "old", "gone", "lm")}
    before = await _rows(store, "SELECT blob_id FROM artifact_blob ORDER BY blob_id")

    dry = await _gc(database_url, store_url, dry_run=True)
    assert (dry.runs, dry.pinned_runs, dry.logged_models, dry.dry_run) == (1, 1, 1, True)
    preview = _store_report(dry, store_url)
    assert {item.what.removeprefix("blob "): item.size for item in preview.blobs} == doomed
    assert await _rows(store, "SELECT blob_id FROM artifact_blob ORDER BY blob_id") == before
    condemned = "SELECT count(*) FROM artifact_blob WHERE condemned_at IS NOT NULL"
    assert await _rows(store, condemned) == [(0,)]
    assert all(held.present(blob) for blob in blobs.values())
    assert len(await _rows(store, "SELECT run_id FROM run")) == 3
    assert await _read(artifacts, live_run, f"{dead_model.artifact_path}/MLmodel") == data["lm"]

    report = await _gc(database_url, store_url)
    assert (report.runs, report.pinned_runs, report.logged_models) == (1, 1, 1)
    removed = _store_report(report, store_url)
    assert {item.what.removeprefix("blob "): item.size for item in removed.blobs} == doomed
    assert not any(held.present(blob) for blob in blobs.values())
    left = {bytes(r[0]).hex() for r in await _rows(store, "SELECT sha256 FROM artifact_blob")}
    assert left == {_digest(data[name]) for name in ("shared", "new", "pin", "kept")}
    for name, path in (("shared", "shared.bin"), ("kept", "kept.bin"), ("new", "over.bin")):
        assert await _read(artifacts, live_run, path) == data[name]
    pinned_file = f"{pinned_model.artifact_path}/MLmodel"
    assert await _read(artifacts, pinned_run, pinned_file) == data["pin"]
    with pytest.raises(NotFound):
        await artifacts.stat(live_run, f"{dead_model.artifact_path}/MLmodel")
    assert await _rows(store, "SELECT model_id FROM logged_model") == [(pinned_model.model_id,)]

    again = await _gc(database_url, store_url)
    assert (again.runs, _store_report(again, store_url).blobs) == (0, [])


class Paused(Backend):
    """A real backend that stops at one step until the test lets it go on."""

    def __init__(self, inner: Backend, step: str) -> None:
        self.inner = inner
        self.url = inner.url
        self.stages_in_transaction = inner.stages_in_transaction
        self.step = step
        self.reached = anyio.Event()
        self.go_on = anyio.Event()
        self.after_step: Callable[[], None] | None = None

    async def _maybe_pause(self, step: str) -> None:
        if step == self.step:
            self.reached.set()
            await self.go_on.wait()

    async def stage(self, conn: Conn | None, source: Any, limit: int) -> Staged:
        return await self.inner.stage(conn, source, limit)

    async def publish(self, conn: Conn, staged: Staged) -> int:
        blob_id = await self.inner.publish(conn, staged)
        await self._maybe_pause("published")  # bytes in place, row not committed yet
        return blob_id

    async def discard(self, conn: Conn | None, staged: Staged) -> None:
        await self._maybe_pause("discard")
        await self.inner.discard(conn, staged)

    def read(self, blob: BlobRef) -> AsyncIterator[bytes]:
        return self.inner.read(blob)

    async def remove(self, blob: BlobRef) -> None:
        await self._maybe_pause("remove")
        await self.inner.remove(blob)
        if self.step == "remove-then-die":
            raise RuntimeError("gc died after removing the bytes")

    async def sweep(self, older_than_seconds: float, dry_run: bool) -> list[Any]:
        return await self.inner.sweep(older_than_seconds, dry_run)


async def _unreferenced(artifacts: ArtifactStore, run_id: uuid.UUID, data: bytes) -> None:
    """A blob of ``data`` that nothing references (uploaded, then deleted)."""
    await artifacts.put(run_id, "once.bin", _body(data))
    await artifacts.delete(run_id, "once.bin")


async def _gc_conn(database_url: str) -> psycopg.AsyncConnection[Any]:
    return await psycopg.AsyncConnection.connect(with_schema(database_url, SCHEMA), autocommit=True)


async def test_gc_passes_over_a_blob_an_upload_is_reusing(
    artifacts: ArtifactStore, store: Store, database_url: str, run_id: uuid.UUID, held: Bytes
) -> None:
    data = os.urandom(300_000)
    await _unreferenced(artifacts, run_id, data)
    blob = await _blob_of(store, data)
    blob_id = blob[0]
    paused = Paused(artifacts.backend, "discard")  # after the upload found the blob, before commit
    uploader = ArtifactStore(store.pool, paused)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(uploader.put, run_id, "again.bin", _body(data))
        await paused.reached.wait()
        # The upload holds the blob FOR KEY SHARE: nobody can lock it for removal.
        async with await _gc_conn(database_url) as probe:
            with pytest.raises(psycopg.errors.LockNotAvailable):
                await probe.execute(
                    "SELECT 1 FROM artifact_blob WHERE blob_id = %s FOR UPDATE NOWAIT", [blob_id]
                )
        async with await _gc_conn(database_url) as conn:
            report = await collect_store(conn, artifacts.backend, uploads_older_than=3600)
        assert report.blobs == []
        assert (await _blob_of(store, data))[2] is False  # not even condemned
        paused.go_on.set()
    assert await _read(artifacts, run_id, "again.bin") == data
    assert held.present(blob)
    async with await _gc_conn(database_url) as conn:
        assert (await collect_store(conn, artifacts.backend, uploads_older_than=3600)).blobs == []
    assert await _read(artifacts, run_id, "again.bin") == data


async def test_an_upload_waits_for_gc_removing_its_content_then_stores_its_own(
    artifacts: ArtifactStore, store: Store, database_url: str, run_id: uuid.UUID, held: Bytes
) -> None:
    data = os.urandom(300_000)
    await _unreferenced(artifacts, run_id, data)
    old_blob, _, _ = await _blob_of(store, data)
    paused = Paused(artifacts.backend, "remove")  # gc holds the condemned blob locked
    reports: list[Any] = []

    async def run_gc(conn: Conn) -> None:
        reports.append(await collect_store(conn, paused, uploads_older_than=3600))

    async with await _gc_conn(database_url) as gc_conn, anyio.create_task_group() as tasks:
        tasks.start_soon(run_gc, gc_conn)
        await paused.reached.wait()
        tasks.start_soon(artifacts.put, run_id, "same.bin", _body(data))
        gc_pid = gc_conn.info.backend_pid
        with anyio.fail_after(30):
            while not await _rows(
                store,
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [gc_pid],
            ):
                await anyio.sleep(0.01)  # polling PostgreSQL for the wait, not a guess
        blocked = await _rows(
            store,
            "SELECT l.locktype, a.query FROM pg_stat_activity a JOIN pg_locks l ON l.pid = a.pid "
            "WHERE %s = ANY(pg_blocking_pids(a.pid)) AND NOT l.granted",
            [gc_pid],
        )
        # The sweep holds the content's lock while it removes bytes (another workspace's row may
        # name them, gc.py): the upload waits there, before its lookup of the blob row.
        # (the postgresql store's bytes are rows: its upload waits on the blob row instead).
        assert blocked, blocked
        if artifacts.backend.bytes_outside_database:
            assert blocked[0][0] == "advisory", blocked
        else:
            assert "FOR KEY SHARE" in blocked[0][1], blocked
        paused.go_on.set()
    assert [item.size for item in reports[0].blobs] == [len(data)]
    new_blob = await _blob_of(store, data)
    assert new_blob[0] != old_blob and new_blob[2] is False
    assert held.present(new_blob)
    assert await _read(artifacts, run_id, "same.bin") == data


async def test_a_blob_condemned_by_a_gc_that_died_is_replaced_never_reused(
    artifacts: ArtifactStore, store: Store, database_url: str, run_id: uuid.UUID, held: Bytes
) -> None:
    data = os.urandom(300_000)
    await _unreferenced(artifacts, run_id, data)
    dying = Paused(artifacts.backend, "remove-then-die")
    async with await _gc_conn(database_url) as conn:
        with pytest.raises(RuntimeError, match="gc died"):
            await collect_store(conn, dying, uploads_older_than=3600)
    condemned = await _blob_of(store, data)
    assert condemned[2] is True  # the mark committed; the sweep rolled back
    if not store_url_is_postgresql(artifacts):
        assert not held.present(condemned)  # ... after the bytes were removed
    await artifacts.put(run_id, "after.bin", _body(data))
    replaced = await _blob_of(store, data)
    assert replaced[2] is False and held.present(replaced)
    assert await _read(artifacts, run_id, "after.bin") == data
    async with await _gc_conn(database_url) as conn:
        assert (await collect_store(conn, artifacts.backend, uploads_older_than=3600)).blobs == []
    assert await _read(artifacts, run_id, "after.bin") == data


def store_url_is_postgresql(artifacts: ArtifactStore) -> bool:
    return artifacts.backend.url == "postgresql"


async def test_an_upload_cut_off_halfway_leaves_nothing_once_gc_ran(
    store: Store,
    database_url: str,
    run_id: uuid.UUID,
    store_url: str,
    held: Bytes,
    s3_env: None,
) -> None:
    # A separate process streams half a file and is killed with SIGKILL: no cleanup code runs.
    script = str(HERE / "partial_upload.py")
    child = subprocess.Popen(
        [sys.executable, script, database_url, SCHEMA, store_url, run_id.hex],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "half sent"
    finally:
        child.kill()
        child.wait(30)
        if child.stdout is not None:
            child.stdout.close()
    expect_leftover = not store_url == "postgresql"
    assert bool(held.leftovers()) == expect_leftover

    kept = await _gc(database_url, store_url, uploads_older_than=dt.timedelta(hours=1))
    assert _store_report(kept, store_url).uploads == []  # too recent to be abandoned
    report = await _gc(database_url, store_url, uploads_older_than=dt.timedelta(0))
    swept = _store_report(report, store_url).uploads
    assert len(swept) == (1 if expect_leftover else 0)
    assert held.leftovers() == []
    assert await _rows(store, "SELECT count(*) FROM artifact_blob") == [(0,)]
    assert await _rows(store, "SELECT count(*) FROM artifact_chunk") == [(0,)]
    assert await _rows(store, "SELECT count(*) FROM run_artifact") == [(0,)]


async def test_a_blob_file_without_a_row_is_removed_unless_an_upload_is_publishing_it(
    artifacts: ArtifactStore, store: Store, database_url: str, run_id: uuid.UUID, store_url: str
) -> None:
    if not store_url.startswith("file://"):
        pytest.skip("only the file:// store names files by content")
    root = Path(store_url[len("file://") :])
    crashed = os.urandom(5000)  # an upload that died between its rename and its commit
    digest = _digest(crashed)
    orphan = root / "blobs" / digest[:2] / digest[2:4] / digest
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(crashed)
    stranger = orphan.parent / "not-a-blob.txt"  # not ours: never touched
    stranger.write_bytes(b"x")

    async with await _gc_conn(database_url) as conn:
        dry = await collect_store(conn, artifacts.backend, uploads_older_than=3600, dry_run=True)
        assert [(b.what, b.size) for b in dry.blobs] == [(f"blob {digest} (no row)", 5000)]
        assert orphan.exists()
        report = await collect_store(conn, artifacts.backend, uploads_older_than=3600)
    assert [b.what for b in report.blobs] == [f"blob {digest} (no row)"]
    assert not orphan.exists() and stranger.exists()

    data = os.urandom(7000)
    paused = Paused(artifacts.backend, "published")
    uploader = ArtifactStore(store.pool, paused)
    reports: list[Any] = []

    async def run_gc(conn: Conn) -> None:
        reports.append(await collect_store(conn, artifacts.backend, uploads_older_than=3600))

    async with await _gc_conn(database_url) as gc_conn, anyio.create_task_group() as tasks:
        tasks.start_soon(uploader.put, run_id, "publishing.bin", _body(data))
        await paused.reached.wait()  # renamed into blobs/, its row not committed
        tasks.start_soon(run_gc, gc_conn)
        gc_pid = gc_conn.info.backend_pid
        with anyio.fail_after(30):
            while not await _rows(
                store, "SELECT 1 WHERE cardinality(pg_blocking_pids(%s)) > 0", [gc_pid]
            ):
                await anyio.sleep(0.01)  # polling PostgreSQL for the wait, not a guess
        paused.go_on.set()
    assert reports[0].blobs == []
    assert await _read(artifacts, run_id, "publishing.bin") == data
