"""Garbage collection of artifact bytes: unreferenced blobs and abandoned partial uploads.

A blob is removed in two phases, so that an upload deduplicating against it can never end with
a reference to missing bytes:

1. **Mark.** Lock a batch of blobs that look unreferenced ``FOR UPDATE SKIP LOCKED``, then, in
   a new statement, set ``condemned_at`` on those that still have no reference. An upload that
   is about to reuse a blob holds it ``FOR KEY SHARE`` from its lookup to its commit (and
   inserting a reference takes the same lock, through the foreign key), so the mark skips it;
   once the mark holds the row lock no reference can appear, and every earlier one has
   committed and is seen by the second statement's snapshot.
2. **Sweep.** Lock condemned blobs ``FOR UPDATE SKIP LOCKED``, remove their bytes from the
   backend, delete their rows, commit. An upload of the same content waits on the row lock in
   its lookup, then finds no blob and publishes its own bytes.

An upload that finds a condemned blob (marked, not yet swept, or a sweep that died after
removing the bytes) never reuses it: it removes what is left of it and publishes its own bytes
under its content lock (``ArtifactStore._publish``). Files and objects are removed only under
``BYTES_REMOVAL_LOCK``, which a running backup holds shared, so a backup never misses a blob of
its snapshot (``modelyard.backup.artifacts``). Every step is idempotent, so a gc killed at
any point is finished by the next one. Partial uploads live outside the index (a staging file,
an unfinished S3 multipart upload); the backend's ``sweep`` removes those older than a cutoff.
A postgresql-store upload is one transaction and leaves nothing to sweep. A ``file://`` blob
file without any row (a crash between an upload's rename and its commit) is removed under the
content lock that upload would hold. An S3 object without a row (an upload whose commit failed
after its object appeared) is removed under ``OBJECT_PUBLISH_LOCK``, which every S3 publish holds
shared from just before its object appears to its commit: once gc holds it exclusively, an
object listed earlier has a committed row or never will. The bucket is read a page at a time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from psycopg.rows import dict_row

from modelyard.artifacts.backend import Backend, BlobRef, Conn
from modelyard.artifacts.filesystem import FileBackend
from modelyard.artifacts.s3 import S3Backend
from modelyard.artifacts.store import (
    CONTENT_LOCK,
    OBJECT_PUBLISH_LOCK,
    content_lock_key,
    lock_bytes_removal,
)
from modelyard.progress import NoProgress, Progress
from modelyard.sql import query

BATCH = 100


@dataclass(frozen=True)
class Removed:
    """One thing gc removed (or would remove): a blob by sha256, or a staged upload."""

    what: str
    size: int


@dataclass
class StoreReport:
    """What gc removed (or would remove) from one store."""

    store_url: str
    blobs: list[Removed] = field(default_factory=list)
    uploads: list[Removed] = field(default_factory=list)


@dataclass(frozen=True)
class Purged:
    """What the run and model purge before the blob gc removed (for a dry run's preview)."""

    run_ids: Sequence[uuid.UUID] = ()
    # (source run, artifact directory) of each purged logged model.
    model_dirs: Sequence[tuple[uuid.UUID | None, str]] = ()


async def collect_store(
    conn: Conn,
    backend: Backend,
    *,
    uploads_older_than: float,
    dry_run: bool = False,
    purged: Purged | None = None,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> StoreReport:
    """Remove the unreferenced blobs and stale partial uploads of ``backend``'s store.

    ``conn`` is in autocommit mode; every batch is its own transaction. ``uploads_older_than``
    is in seconds. A dry run changes nothing and reports the blobs that the purge described by
    ``purged`` would leave unreferenced, as well as those unreferenced already.
    """
    progress = progress or NoProgress()
    report = StoreReport(store_url=backend.url)
    if dry_run:
        report.blobs = await _preview(conn, backend.url, purged or Purged())
    else:
        await _mark(conn, backend.url, batch)
        report.blobs = await _sweep(conn, backend, batch, progress)
    swept = await backend.sweep(uploads_older_than, dry_run)
    report.uploads = [Removed(what=item.what, size=item.size) for item in swept]
    if isinstance(backend, FileBackend):
        report.blobs += await _orphan_files(conn, backend, dry_run)
    if isinstance(backend, S3Backend):
        report.blobs += await _orphan_objects(conn, backend, dry_run)
    return report


async def _orphan_objects(conn: Conn, backend: S3Backend, dry_run: bool) -> list[Removed]:
    """Objects under ``blobs/`` that no row names, a listing page at a time (see the docstring)."""
    removed: list[Removed] = []
    async for page in backend.objects():
        if not page:
            continue
        if dry_run:
            known = await _known_keys(conn, backend.url, [o.key for o in page])
            orphans = [o for o in page if o.key not in known]
        else:
            async with conn.transaction():
                namespace, key = OBJECT_PUBLISH_LOCK
                await conn.execute(
                    query("artifacts.lock_content"), {"namespace": namespace, "key": key}
                )
                await lock_bytes_removal(conn)
                # A new statement after the lock: every upload that made one of these objects
                # has committed its row (seen here) or rolled back (an orphan).
                known = await _known_keys(conn, backend.url, [o.key for o in page])
                orphans = [o for o in page if o.key not in known]
                await backend.remove_objects([o.key for o in orphans])
        removed.extend(
            Removed(what=f"s3://{backend.bucket}/{o.key} (no row)", size=o.size) for o in orphans
        )
    return removed


async def _known_keys(conn: Conn, store_url: str, keys: list[str]) -> set[str]:
    cur = await conn.execute(
        query("artifact_gc.known_locators"), {"store_url": store_url, "locators": keys}
    )
    return {cast(str, row[0]) for row in await cur.fetchall()}


async def _orphan_files(conn: Conn, backend: FileBackend, dry_run: bool) -> list[Removed]:
    """Blob files without a row: left by a crash between the rename and the commit of an upload.

    A file is removed only under its content lock, with no row found after taking it: an upload
    renames a file into place and commits its row while holding that lock, so a file seen
    without a row under the lock is no upload's.
    """
    removed: list[Removed] = []
    for directory in await asyncio.to_thread(backend.blob_directories):
        files = await asyncio.to_thread(backend.blob_files, directory)
        if not files:
            continue
        unknown = set(files) - await _known(conn, backend.url, list(files))
        for sha256 in sorted(unknown):
            path = files[sha256]
            try:
                size = (await asyncio.to_thread(path.stat)).st_size
            except FileNotFoundError:
                continue
            if not dry_run:
                async with conn.transaction():
                    # The content lock first, as an upload takes them: no deadlock.
                    await conn.execute(
                        query("artifacts.lock_content"),
                        {"namespace": CONTENT_LOCK, "key": content_lock_key(sha256)},
                    )
                    await lock_bytes_removal(conn)
                    if await _known(conn, backend.url, [sha256]):
                        continue  # an upload published it meanwhile
                    await asyncio.to_thread(path.unlink, True)
            removed.append(Removed(what=f"blob {sha256.hex()} (no row)", size=size))
    return removed


async def _known(conn: Conn, store_url: str, digests: list[bytes]) -> set[bytes]:
    cur = await conn.execute(
        query("artifact_gc.known_blobs"), {"store_url": store_url, "digests": digests}
    )
    return {bytes(cast(bytes, row[0])) for row in await cur.fetchall()}


async def _mark(conn: Conn, store_url: str, batch: int) -> int:
    condemned = 0
    after = 0
    while True:
        async with conn.transaction():
            cur = await conn.execute(
                query("artifact_gc.lock_unreferenced"),
                {"store_url": store_url, "after": after, "batch": batch},
            )
            locked = [cast(int, row[0]) for row in await cur.fetchall()]
            if not locked:
                return condemned
            after = locked[-1]
            cur = await conn.execute(query("artifact_gc.condemn"), {"blob_ids": locked})
            condemned += len(await cur.fetchall())


async def _count_condemned(conn: Conn, store_url: str) -> int:
    cur = await conn.execute(query("artifact_gc.count_condemned"), {"store_url": store_url})
    row = await cur.fetchone()
    return int(str(row[0])) if row else 0


async def _sweep(conn: Conn, backend: Backend, batch: int, progress: Progress) -> list[Removed]:
    removed: list[Removed] = []
    total = await _count_condemned(conn, backend.url)
    after = 0
    with progress.phase(f"removing unreferenced blobs from {backend.url}", total) as advance:
        while True:
            async with conn.transaction():
                if backend.bytes_outside_database:
                    await lock_bytes_removal(conn)  # before the row locks: uploads wait less
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(
                    query("artifact_gc.lock_condemned"),
                    {"store_url": backend.url, "after": after, "batch": batch},
                )
                rows = await cur.fetchall()
                if not rows:
                    return removed
                after = rows[-1]["blob_id"]
                live = [row["blob_id"] for row in rows if row["referenced"]]
                if live:
                    await conn.execute(query("artifact_gc.pardon"), {"blob_ids": live})
                doomed = [row for row in rows if not row["referenced"]]
                if backend.bytes_outside_database:
                    doomed = await _claim_bytes(conn, backend, doomed)
                # Bytes first, row last, all under the row locks: a crash in between leaves a
                # condemned row whose bytes are (partly) gone, which no upload reuses and the
                # next gc deletes.
                for row in doomed:
                    if not row.get("shared"):
                        await backend.remove(_blob(row))
                await conn.execute(
                    query("artifact_gc.delete_blobs"),
                    {"blob_ids": [row["blob_id"] for row in doomed]},
                )
            removed.extend(Removed(what=_name(row["sha256"]), size=row["size"]) for row in doomed)
            advance(len(rows))


async def _claim_bytes(
    conn: Conn, backend: Backend, doomed: list[dict[str, object]]
) -> list[dict[str, object]]:
    """The doomed blobs whose content lock gc holds now, each marked ``shared`` when another
    workspace's row names the same bytes (dedup is per workspace, a file:// store's bytes per
    content: docs/design.md). Under the content lock no upload of another workspace is between
    installing those bytes and committing its row, so the check sees every row that names them.
    A blob whose lock is busy is left condemned for the next gc.
    """
    claimed: list[dict[str, object]] = []
    for row in doomed:
        if row["sha256"] is None or row["locator"] is None:
            claimed.append({**row, "shared": False})
            continue
        cur = await conn.execute(
            query("artifact_gc.try_lock_content"),
            {"namespace": CONTENT_LOCK, "key": content_lock_key(bytes(cast(bytes, row["sha256"])))},
        )
        locked = await cur.fetchone()
        if not (locked and locked[0]):
            continue
        cur = await conn.execute(
            query("artifacts.locator_shared"),
            {"store_url": backend.url, "locator": row["locator"], "blob_id": row["blob_id"]},
        )
        shared = await cur.fetchone()
        claimed.append({**row, "shared": bool(shared and shared[0])})
    return claimed


async def _preview(conn: Conn, store_url: str, purged: Purged) -> list[Removed]:
    cur = await conn.execute(
        query("artifact_gc.preview_blobs"),
        {
            "store_url": store_url,
            "purged_runs": list(purged.run_ids),
            "model_runs": [run_id for run_id, _ in purged.model_dirs],
            "model_paths": [path for _, path in purged.model_dirs],
        },
    )
    return [
        Removed(what=_name(sha256), size=cast(int, size)) for sha256, size in await cur.fetchall()
    ]


def _blob(row: dict[str, object]) -> BlobRef:
    return BlobRef(
        blob_id=cast(int, row["blob_id"]),
        sha256=bytes(cast(bytes, row["sha256"] or b"")),
        size=cast(int, row["size"]),
        locator=cast("str | None", row["locator"]),
    )


def _name(sha256: object) -> str:
    return f"blob {bytes(cast(bytes, sha256)).hex()}" if sha256 is not None else "blob (unsealed)"
