"""gc on the s3 store, against a real moto server: listings read to their end, page after page,
objects no row names removed, and never the object of an upload still publishing."""

from __future__ import annotations

import os
import uuid
from typing import Any

import anyio
import pytest
from test_artifact_gc import Paused, _body, _gc_conn, _read, _rows

from modelyard.artifacts.backend import Conn
from modelyard.artifacts.gc import collect_store
from modelyard.artifacts.s3 import S3Backend
from modelyard.artifacts.store import ArtifactStore
from modelyard.store import Store

pytestmark = pytest.mark.anyio

PAGE = 2  # moto honours MaxKeys/MaxUploads/MaxParts: every listing below spans several pages


@pytest.fixture
def store_kind() -> str:
    return "s3"


@pytest.fixture
def backend(artifacts: ArtifactStore) -> S3Backend:
    assert isinstance(artifacts.backend, S3Backend)
    artifacts.backend.page_size = PAGE
    return artifacts.backend


@pytest.fixture
def s3(s3_endpoint: Any) -> Any:
    return s3_endpoint.client()


def _keys(s3: Any, backend: S3Backend) -> set[str]:
    paginator = s3.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=backend.bucket, Prefix=backend._key("blobs/"))
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _unfinished(s3: Any, backend: S3Backend) -> set[str]:
    paginator = s3.get_paginator("list_multipart_uploads")
    pages = paginator.paginate(Bucket=backend.bucket, Prefix=backend._key("blobs/"))
    return {item["UploadId"] for page in pages for item in page.get("Uploads", [])}


async def test_objects_no_row_names_are_removed_on_every_page(
    artifacts: ArtifactStore,
    backend: S3Backend,
    s3: Any,
    store: Store,
    database_url: str,
    run_id: uuid.UUID,
) -> None:
    kept = {f"kept-{i}.bin": os.urandom(1000 + i) for i in range(3)}
    for path, data in kept.items():
        await artifacts.put(run_id, path, _body(data))
    referenced = _keys(s3, backend)
    assert len(referenced) == 3
    # Uploads that completed their object and then failed to commit: no row names these.
    orphans = {backend._key(f"blobs/{uuid.uuid4().hex}"): os.urandom(500 + i) for i in range(5)}
    for key, data in orphans.items():
        s3.put_object(Bucket=backend.bucket, Key=key, Body=data)
    # Outside blobs/ is not ours, and neither is another prefix of the bucket.
    s3.put_object(Bucket=backend.bucket, Key=backend._key("notes.txt"), Body=b"x")
    s3.put_object(Bucket=backend.bucket, Key="elsewhere/blobs/abc", Body=b"y")

    async with await _gc_conn(database_url) as conn:
        dry = await collect_store(conn, backend, uploads_older_than=3600, dry_run=True)
        expected = sorted(
            (f"s3://{backend.bucket}/{key} (no row)", len(data)) for key, data in orphans.items()
        )
        assert sorted((b.what, b.size) for b in dry.blobs) == expected
        assert _keys(s3, backend) == referenced | set(orphans)  # a dry run removes nothing

        report = await collect_store(conn, backend, uploads_older_than=3600)
    assert sorted((b.what, b.size) for b in report.blobs) == expected
    assert _keys(s3, backend) == referenced
    assert s3.get_object(Bucket=backend.bucket, Key=backend._key("notes.txt"))["Body"].read()
    assert s3.get_object(Bucket=backend.bucket, Key="elsewhere/blobs/abc")["Body"].read()
    for path, data in kept.items():
        assert await _read(artifacts, run_id, path) == data
    assert await _rows(store, "SELECT count(*) FROM artifact_blob") == [(3,)]


async def test_stale_multipart_uploads_are_aborted_on_every_page(
    backend: S3Backend, s3: Any, database_url: str
) -> None:
    started = set()
    for _ in range(5):  # uploads whose writer died after a part or two
        key = backend._key(f"blobs/{uuid.uuid4().hex}")
        upload = s3.create_multipart_upload(Bucket=backend.bucket, Key=key)["UploadId"]
        for number in (1, 2, 3):  # three parts: list_parts pages too
            s3.upload_part(
                Bucket=backend.bucket, Key=key, UploadId=upload, PartNumber=number, Body=b"p" * 10
            )
        started.add(upload)
    assert _unfinished(s3, backend) == started

    async with await _gc_conn(database_url) as conn:
        recent = await collect_store(conn, backend, uploads_older_than=3600)
        assert recent.uploads == []  # younger than the cutoff: perhaps still being written
        dry = await collect_store(conn, backend, uploads_older_than=0, dry_run=True)
        assert sorted(u.size for u in dry.uploads) == [30] * 5
        assert _unfinished(s3, backend) == started
        report = await collect_store(conn, backend, uploads_older_than=0)
    assert len(report.uploads) == 5
    assert _unfinished(s3, backend) == set()


async def test_gc_never_removes_the_object_of_an_upload_still_publishing(
    artifacts: ArtifactStore,
    backend: S3Backend,
    s3: Any,
    store: Store,
    database_url: str,
    run_id: uuid.UUID,
) -> None:
    data = os.urandom(7000)
    paused = Paused(backend, "published")
    uploader = ArtifactStore(store.pool, paused)
    reports: list[Any] = []

    async def run_gc(conn: Conn) -> None:
        reports.append(await collect_store(conn, backend, uploads_older_than=3600))

    async with await _gc_conn(database_url) as gc_conn, anyio.create_task_group() as tasks:
        tasks.start_soon(uploader.put, run_id, "publishing.bin", _body(data))
        await paused.reached.wait()  # the object exists, its row is not committed
        assert len(_keys(s3, backend)) == 1
        tasks.start_soon(run_gc, gc_conn)
        gc_pid = gc_conn.info.backend_pid
        with anyio.fail_after(30):
            while not await _rows(
                store, "SELECT 1 WHERE cardinality(pg_blocking_pids(%s)) > 0", [gc_pid]
            ):
                await anyio.sleep(0.01)  # polling PostgreSQL for the wait, not a guess
        paused.go_on.set()
    assert reports[0].blobs == []
    assert len(_keys(s3, backend)) == 1
    assert await _read(artifacts, run_id, "publishing.bin") == data
