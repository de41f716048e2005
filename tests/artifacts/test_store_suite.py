"""The one suite every artifact store must pass: postgresql, file:// and s3:// (moto server)."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from modelyard.artifacts.store import ArtifactStore
from modelyard.errors import ArtifactCorrupted, InvalidArtifactPath, NotFound, PayloadTooLarge
from modelyard.store import Store
from pool_support import pooled

pytestmark = pytest.mark.anyio

TRAVERSALS = [
    "../escape",
    "a/../../escape",
    "a/..",
    "/etc/passwd",
    "a//b",
    "./a",
    "a/./b",
    "a\\..\\b",
    "..\\escape",
    "C:/windows",
    "a\x00b",
    "line\nbreak",
    "%2e%2e/escape",
    "..%2fescape",
    "%252e%252e/escape",
    "a/%2E%2E/b",
    "a/",
    "",
]


async def _body(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _generated(total: int, piece: int = 256 * 1024, seed: int = 7) -> AsyncIterator[bytes]:
    """``total`` deterministic pseudo-random bytes, made on the fly (never held whole)."""
    block = hashlib.sha256(str(seed).encode()).digest() * (piece // 32)
    sent = 0
    counter = 0
    while sent < total:
        size = min(piece, total - sent)
        # Vary each piece so chunks differ (no accidental dedup inside the file).
        yield counter.to_bytes(8, "big") + block[8:size] if size > 8 else block[:size]
        sent += size
        counter += 1


async def _read(artifacts: ArtifactStore, run_id: uuid.UUID, path: str, **range_: Any) -> bytes:
    _, chunks = await artifacts.open(run_id, path, **range_)
    return b"".join([chunk async for chunk in chunks])


async def _blob_count(store: Store) -> int:
    async with pooled(store.pool) as conn:
        cur = await conn.execute("SELECT count(*) FROM artifact_blob")
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def test_binary_file_round_trip(artifacts: ArtifactStore, run_id: uuid.UUID) -> None:
    data = bytes(range(256)) * 9000 + b"\x00\xff" * 3  # > 2 chunks, every byte value
    stored = await artifacts.put(run_id, "model/weights.bin", _body(data[:1000], data[1000:]))
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert await _read(artifacts, run_id, "model/weights.bin") == data
    assert (await artifacts.stat(run_id, "model/weights.bin")) == stored


async def test_empty_file(artifacts: ArtifactStore, run_id: uuid.UUID) -> None:
    stored = await artifacts.put(run_id, "empty.txt", _body())
    assert stored.size == 0
    assert stored.sha256 == hashlib.sha256(b"").hexdigest()
    assert await _read(artifacts, run_id, "empty.txt") == b""


async def test_ranges(artifacts: ArtifactStore, run_id: uuid.UUID) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    await artifacts.put(run_id, "r.bin", _body(data))
    assert await _read(artifacts, run_id, "r.bin", start=5, end=10) == data[5:10]
    middle = (1024 * 1024 - 3, 2 * 1024 * 1024 + 5)
    got = await _read(artifacts, run_id, "r.bin", start=middle[0], end=middle[1])
    assert got == data[middle[0] : middle[1]]
    assert await _read(artifacts, run_id, "r.bin", start=len(data) - 1) == data[-1:]


async def test_unicode_paths_and_listing(artifacts: ArtifactStore, run_id: uuid.UUID) -> None:
    await artifacts.put(run_id, "données/模型/😀 weights.bin", _body(b"w"))
    await artifacts.put(run_id, "données/notes.txt", _body(b"hello"))
    await artifacts.put(run_id, "top.txt", _body(b"t"))
    root = await artifacts.list_dir(run_id, "")
    assert [(e.name, e.is_dir) for e in root] == [("données", True), ("top.txt", False)]
    below = await artifacts.list_dir(run_id, "données")
    assert [(e.name, e.is_dir, e.size) for e in below] == [
        ("notes.txt", False, 5),
        ("模型", True, None),
    ]
    assert below[0].sha256 == hashlib.sha256(b"hello").hexdigest()
    assert below[1].path == "données/模型"
    assert await _read(artifacts, run_id, "données/模型/😀 weights.bin") == b"w"
    assert [f.path for f in await artifacts.walk(run_id, "données")] == [
        "données/notes.txt",
        "données/模型/😀 weights.bin",
    ]


async def test_every_traversal_form_is_refused(
    artifacts: ArtifactStore, run_id: uuid.UUID, store: Store
) -> None:
    for path in TRAVERSALS:
        with pytest.raises(InvalidArtifactPath):
            await artifacts.put(run_id, path, _body(b"x"))
        with pytest.raises(InvalidArtifactPath):
            await artifacts.stat(run_id, path)
    assert await _blob_count(store) == 0


async def test_checksum_mismatch_is_detected_on_read(
    artifacts: ArtifactStore, run_id: uuid.UUID, store: Store, store_url: str, request: Any
) -> None:
    data = os.urandom(2 * 1024 * 1024 + 100)
    await artifacts.put(run_id, "w.bin", _body(data))
    async with pooled(store.pool) as conn:
        cur = await conn.execute("SELECT blob_id, locator FROM artifact_blob")
        blob_id, locator = (await cur.fetchall())[0]
        if store_url == "postgresql":
            # Flip one byte of the second chunk, in place, as a disk error would.
            await conn.execute(
                "UPDATE artifact_chunk SET data = set_byte(data, 10, get_byte(data, 10) # 1)"
                " WHERE blob_id = %s AND seq = 1",
                [blob_id],
            )
    if store_url.startswith("file://"):
        with open(Path(store_url[len("file://") :]) / locator, "r+b") as handle:
            handle.seek(1024 * 1024 + 10)
            byte = handle.read(1)
            handle.seek(1024 * 1024 + 10)
            handle.write(bytes([byte[0] ^ 1]))
    if store_url.startswith("s3://"):
        bucket = store_url[len("s3://") :].split("/", 1)[0]
        corrupted = bytearray(data)
        corrupted[1024 * 1024 + 10] ^= 1
        request.getfixturevalue("s3_endpoint").client().put_object(
            Bucket=bucket, Key=locator, Body=bytes(corrupted)
        )
    with pytest.raises(ArtifactCorrupted):
        await _read(artifacts, run_id, "w.bin")
    # A ranged read of an intact part still checks the whole blob.
    with pytest.raises(ArtifactCorrupted):
        await _read(artifacts, run_id, "w.bin", start=0, end=10)


async def test_a_truncated_blob_is_detected(
    artifacts: ArtifactStore, run_id: uuid.UUID, store: Store, store_url: str, request: Any
) -> None:
    data = os.urandom(1024 * 1024 + 5)
    await artifacts.put(run_id, "t.bin", _body(data))
    async with pooled(store.pool) as conn:
        cur = await conn.execute("SELECT blob_id, locator FROM artifact_blob")
        blob_id, locator = (await cur.fetchall())[0]
        if store_url == "postgresql":
            await conn.execute(
                "DELETE FROM artifact_chunk WHERE blob_id = %s AND seq = 1", [blob_id]
            )
    if store_url.startswith("file://"):
        os.truncate(Path(store_url[len("file://") :]) / locator, 1024 * 1024)
    if store_url.startswith("s3://"):
        bucket = store_url[len("s3://") :].split("/", 1)[0]
        request.getfixturevalue("s3_endpoint").client().put_object(
            Bucket=bucket, Key=locator, Body=data[:1024]
        )
    with pytest.raises(ArtifactCorrupted):
        await _read(artifacts, run_id, "t.bin")


async def test_identical_content_is_stored_once(
    artifacts: ArtifactStore, run_id: uuid.UUID, store: Store
) -> None:
    experiment = await store.experiments.get_or_create("other")
    other = uuid.UUID((await store.runs.create(experiment.experiment_id)).run_id)
    data = os.urandom(1024 * 1024 + 1)
    first = await artifacts.put(run_id, "a.bin", _body(data))
    second = await artifacts.put(other, "copy/of/a.bin", _body(data))
    third = await artifacts.put(run_id, "again.bin", _body(data))
    assert first.sha256 == second.sha256 == third.sha256
    assert await _blob_count(store) == 1
    assert await _read(artifacts, other, "copy/of/a.bin") == data


async def test_concurrent_uploads_of_the_same_content(
    artifacts: ArtifactStore, run_id: uuid.UUID, store: Store
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)

    async def upload(index: int) -> None:
        await artifacts.put(run_id, f"copies/{index}.bin", _body(data[:5000], data[5000:]))

    async with anyio.create_task_group() as tasks:
        for index in range(8):
            tasks.start_soon(upload, index)
    assert await _blob_count(store) == 1
    listing = await artifacts.list_dir(run_id, "copies")
    assert len(listing) == 8
    for entry in listing:
        assert await _read(artifacts, run_id, entry.path) == data


async def test_an_upload_cut_off_halfway_leaves_nothing_visible(
    artifacts: ArtifactStore, run_id: uuid.UUID, store: Store, store_url: str, request: Any
) -> None:
    class Dropped(Exception):
        pass

    async def dropping() -> AsyncIterator[bytes]:
        yield os.urandom(9 * 1024 * 1024)  # past the first S3 part and several chunks
        raise Dropped("connection lost")

    with pytest.raises(Dropped):
        await artifacts.put(run_id, "partial.bin", dropping())
    with pytest.raises(NotFound):
        await artifacts.stat(run_id, "partial.bin")
    assert await artifacts.list_dir(run_id, "") == []
    assert await _blob_count(store) == 0
    if store_url.startswith("file://"):
        assert list((Path(store_url[len("file://") :]) / "staging").iterdir()) == []
    if store_url.startswith("s3://"):
        bucket = store_url[len("s3://") :].split("/", 1)[0]
        client = request.getfixturevalue("s3_endpoint").client()
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
        assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


async def test_the_size_limit(artifacts: ArtifactStore, run_id: uuid.UUID, store: Store) -> None:
    with pytest.raises(PayloadTooLarge):
        await artifacts.put(run_id, "big.bin", _body(b"x" * 2000, b"y" * 2000), limit=3000)
    with pytest.raises(NotFound):
        await artifacts.stat(run_id, "big.bin")
    assert await _blob_count(store) == 0


async def test_a_file_and_a_directory_of_the_same_name_cannot_coexist(
    artifacts: ArtifactStore, run_id: uuid.UUID
) -> None:
    from modelyard.errors import Conflict

    await artifacts.put(run_id, "a/b", _body(b"1"))
    with pytest.raises(Conflict):
        await artifacts.put(run_id, "a", _body(b"2"))
    with pytest.raises(Conflict):
        await artifacts.put(run_id, "a/b/c", _body(b"3"))


async def test_overwrite_and_delete(artifacts: ArtifactStore, run_id: uuid.UUID) -> None:
    await artifacts.put(run_id, "d/x.txt", _body(b"one"))
    await artifacts.put(run_id, "d/x.txt", _body(b"two"))
    await artifacts.put(run_id, "d/sub/y.txt", _body(b"y"))
    assert await _read(artifacts, run_id, "d/x.txt") == b"two"
    assert await artifacts.delete(run_id, "d/sub") == ["d/sub/y.txt"]
    assert [e.name for e in await artifacts.list_dir(run_id, "d")] == ["x.txt"]
    assert await artifacts.delete(run_id, "d") == ["d/x.txt"]
    with pytest.raises(NotFound):
        await artifacts.delete(run_id, "d")


async def test_unknown_run(artifacts: ArtifactStore) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFound):
        await artifacts.put(missing, "a.txt", _body(b"x"))
    with pytest.raises(NotFound):
        await artifacts.list_dir(missing, "")


@pytest.mark.slow
async def test_several_hundred_megabytes_stream_with_bounded_memory(
    artifacts: ArtifactStore, run_id: uuid.UUID
) -> None:
    total = 300 * 1024 * 1024
    expected = hashlib.sha256()
    async for piece in _generated(total):
        expected.update(piece)
    tracemalloc.start()
    try:
        stored = await artifacts.put(run_id, "big/weights.bin", _generated(total))
        _, upload_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        size = 0
        _, chunks = await artifacts.open(run_id, "big/weights.bin")
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
        _, download_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == size == total
    assert stored.sha256 == digest.hexdigest() == expected.hexdigest()
    # 300 MB went through; a few 1 MiB chunks (8 MiB S3 parts) may be alive at once.
    assert upload_peak < 40 * 1024 * 1024, upload_peak
    assert download_peak < 40 * 1024 * 1024, download_peak
