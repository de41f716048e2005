"""The artifact store: the index of run paths in PostgreSQL over one bytes backend.

``put`` streams an upload into the backend's staging area while hashing it, then, in one short
transaction, takes the content lock, reuses the blob of the same content if the store has one
(dedup) or publishes the staged bytes as a new blob, and points the run path at it. Nothing is
visible before that transaction commits. ``open`` streams a blob back and verifies its size and
sha256 as it goes; the last chunk is held back until the check passed, so a corrupted blob never
arrives complete (the response is cut short instead, and the reader gets ArtifactCorrupted).
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from psycopg.rows import dict_row

from modelyard.artifacts import paths
from modelyard.artifacts.backend import Backend, BlobRef, Conn, Staged
from modelyard.artifacts.location import parse_store_url
from modelyard.errors import (
    ArtifactCorrupted,
    ArtifactStoreUnavailable,
    Conflict,
    InvalidInput,
    InvalidState,
    NotFound,
)
from modelyard.sql import query
from modelyard.store._base import Pool, Repository

# Advisory lock namespaces (the two-int form; migrations use the one-bigint form).
RUN_PATHS_LOCK = 70701
CONTENT_LOCK = 70702
# Held shared by a backup (from before its snapshot to its end) and exclusively, per
# transaction, by whoever removes blob bytes kept outside the database (gc, a replacing upload).
BYTES_REMOVAL_LOCK = (70703, 0)
# Held shared by an S3 upload from just before its object appears to the commit of its row, and
# exclusively by gc while it removes objects that no row names: an object gc sees without a row
# under this lock is no upload's (modelyard.artifacts.gc).
OBJECT_PUBLISH_LOCK = (70704, 0)

DEFAULT_MAX_BYTES = 20 * 1024**3


def open_backend(url: str, pool: Pool) -> Backend:
    """The backend of the store URL (``postgresql``, ``file:///dir``, ``s3://bucket/prefix``)."""
    location = parse_store_url(url)
    if location.kind == "file":
        from modelyard.artifacts.filesystem import FileBackend

        return FileBackend(location)
    if location.kind == "s3":
        from modelyard.artifacts.s3 import S3Backend

        return S3Backend(location)
    from modelyard.artifacts.postgres import PostgresBackend

    return PostgresBackend(pool)


async def lock_bytes_removal(conn: Conn) -> None:
    """Wait for running backups before removing blob files (see BYTES_REMOVAL_LOCK)."""
    namespace, key = BYTES_REMOVAL_LOCK
    await conn.execute(query("artifacts.lock_content"), {"namespace": namespace, "key": key})


def content_lock_key(sha256: bytes) -> int:
    """The advisory lock key of a content: its first four bytes (a collision only waits)."""
    return int.from_bytes(sha256[:4], "big", signed=True)


@dataclass(frozen=True)
class ArtifactFile:
    """A file of a run: its path, size and sha256 (hex)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ArtifactEntry:
    """One child in a directory listing; directories have no size or digest."""

    name: str
    path: str
    is_dir: bool
    size: int | None
    sha256: str | None


@dataclass(frozen=True)
class _Located:
    file: ArtifactFile
    blob: BlobRef
    store_url: str


def _located(row: dict[str, Any]) -> _Located:
    digest = bytes(row["sha256"])
    return _Located(
        file=ArtifactFile(path=row["path"], size=row["size"], sha256=digest.hex()),
        blob=BlobRef(
            blob_id=row["blob_id"], sha256=digest, size=row["size"], locator=row["locator"]
        ),
        store_url=row["store_url"],
    )


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class ArtifactStore(Repository):
    """Run artifacts over one backend; every path is checked by modelyard.artifacts.paths."""

    def __init__(self, pool: Pool, backend: Backend, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(pool)
        self.backend = backend
        self.max_bytes = max_bytes

    # -- writing --------------------------------------------------------------------------

    async def put(
        self,
        run_id: uuid.UUID,
        path: str,
        source: AsyncIterable[bytes],
        *,
        limit: int | None = None,
        adopt: Path | None = None,
    ) -> ArtifactFile:
        """Store ``source`` as the run's file ``path`` (replacing it); atomic, bounded memory.

        ``adopt``: a local file whose content ``source`` is; a backend that can take the file
        over (``file://`` on the same filesystem) renames it instead of writing a copy, so the
        caller must not use the file afterwards.
        """
        path = paths.check_path(path)
        limit = self.max_bytes if limit is None else min(limit, self.max_bytes)
        if self.backend.stages_in_transaction:
            async with self.transaction() as conn:
                await self._lock_active_run(conn, run_id)
                staged = await self.backend.stage(conn, source, limit)
                return await self._publish(conn, run_id, path, staged)
        await self._check_run(run_id, active=True)
        adopted = None if adopt is None else await self.backend.adopt(source, limit, adopt)
        staged = adopted or await self.backend.stage(None, source, limit)
        try:
            async with self.transaction() as conn:
                await self._lock_active_run(conn, run_id)
                return await self._publish(conn, run_id, path, staged)
        except BaseException:
            await self.backend.discard(None, staged)
            raise

    async def _publish(
        self, conn: Conn, run_id: uuid.UUID, path: str, staged: Staged
    ) -> ArtifactFile:
        await conn.execute(
            query("artifacts.lock_run_paths"), {"namespace": RUN_PATHS_LOCK, "run_id": run_id}
        )
        low, high = paths.child_range(path)
        cur = await conn.execute(
            query("artifacts.path_conflict"),
            {"run_id": run_id, "ancestors": _ancestors(path), "low": low, "high": high},
        )
        clash = await cur.fetchone()
        if clash is not None:
            raise Conflict(
                f"artifact path {path!r} clashes with the existing file {clash[0]!r} "
                "(a path cannot be both a file and a directory)",
                path=path,
                existing=clash[0],
            )
        await conn.execute(
            query("artifacts.lock_content"),
            {"namespace": CONTENT_LOCK, "key": content_lock_key(staged.sha256)},
        )
        cur = await conn.execute(
            query("artifacts.find_blob"),
            {"store_url": self.backend.url, "sha256": staged.sha256},
        )
        existing = await cur.fetchone()
        if existing is not None and not existing[3]:
            blob_id = cast(int, existing[0])
            await self.backend.discard(conn, staged)
        else:
            if existing is not None:
                # Condemned by gc, whose sweep may have removed its bytes already: never reuse
                # it, finish gc's work under our locks and publish our own bytes instead.
                condemned = BlobRef(
                    blob_id=cast(int, existing[0]),
                    sha256=staged.sha256,
                    size=cast(int, existing[1]),
                    locator=cast("str | None", existing[2]),
                )
                if self.backend.bytes_outside_database:
                    await lock_bytes_removal(conn)
                # Another workspace's row may name the same bytes (dedup is per workspace, a
                # file:// store's bytes per content): those stay. We hold the content lock.
                if not await self._bytes_shared(conn, condemned):
                    await self.backend.remove(condemned)
                await conn.execute(query("artifacts.delete_blob"), {"blob_id": condemned.blob_id})
            blob_id = await self.backend.publish(conn, staged)
        await conn.execute(
            query("artifacts.upsert"), {"run_id": run_id, "path": path, "blob_id": blob_id}
        )
        return ArtifactFile(path=path, size=staged.size, sha256=staged.sha256.hex())

    async def _bytes_shared(self, conn: Conn, blob: BlobRef) -> bool:
        if blob.locator is None:
            return False
        cur = await conn.execute(
            query("artifacts.locator_shared"),
            {"store_url": self.backend.url, "locator": blob.locator, "blob_id": blob.blob_id},
        )
        row = await cur.fetchone()
        return bool(row and row[0])

    async def delete(self, run_id: uuid.UUID, path: str) -> list[str]:
        """Delete a file, or a directory with everything below it; the paths deleted."""
        path = paths.check_directory(path)
        if not path:
            raise InvalidInput("refusing to delete the whole artifact root; name a path")
        low, high = paths.child_range(path)
        async with self.transaction() as conn:
            await self._lock_active_run(conn, run_id)
            await conn.execute(
                query("artifacts.lock_run_paths"),
                {"namespace": RUN_PATHS_LOCK, "run_id": run_id},
            )
            cur = await conn.execute(
                query("artifacts.delete"),
                {"run_id": run_id, "path": path, "low": low, "high": high},
            )
            deleted = [cast(str, row[0]) for row in await cur.fetchall()]
        if not deleted:
            raise NotFound(f"run {run_id.hex} has no artifact {path!r}", path=path)
        return deleted

    # -- reading --------------------------------------------------------------------------

    async def stat(self, run_id: uuid.UUID, path: str) -> ArtifactFile:
        """The file ``path`` of the run; NotFound when there is none."""
        return (await self._locate(run_id, paths.check_path(path))).file

    async def list_dir(self, run_id: uuid.UUID, directory: str = "") -> list[ArtifactEntry]:
        """The direct children of ``directory`` (``""`` is the root), files and directories."""
        directory = paths.check_directory(directory)
        low, high = paths.child_range(directory)
        async with self.read() as conn:
            await self._require_run(conn, run_id)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                query("artifacts.list_children"),
                {"run_id": run_id, "skip": len(low), "low": low, "high": high},
            )
            rows = await cur.fetchall()
        if not rows and directory:
            raise NotFound(f"run {run_id.hex} has no artifact directory {directory!r}")
        return [
            ArtifactEntry(
                name=row["name"],
                path=f"{directory}/{row['name']}" if directory else row["name"],
                is_dir=row["is_dir"],
                size=row["size"],
                sha256=bytes(row["sha256"]).hex() if row["sha256"] is not None else None,
            )
            for row in rows
        ]

    async def walk(self, run_id: uuid.UUID, directory: str = "") -> list[ArtifactFile]:
        """Every file below ``directory``, in path order."""
        return [found.file for found in await self._walk(run_id, directory)]

    async def _walk(self, run_id: uuid.UUID, directory: str) -> list[_Located]:
        directory = paths.check_directory(directory)
        low, high = paths.child_range(directory)
        async with self.read() as conn:
            await self._require_run(conn, run_id)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("artifacts.walk"), {"run_id": run_id, "low": low, "high": high})
            return [_located(row) for row in await cur.fetchall()]

    async def open(
        self, run_id: uuid.UUID, path: str, *, start: int = 0, end: int | None = None
    ) -> tuple[ArtifactFile, AsyncIterator[bytes]]:
        """The file and an iterator over its bytes ``[start, end)``, verified against sha256."""
        found = await self._locate(run_id, paths.check_path(path))
        if found.store_url != self.backend.url:
            raise ArtifactStoreUnavailable(
                f"artifact {path!r} is held by the store {found.store_url}, and this server "
                f"uses {self.backend.url}",
                store=found.store_url,
            )
        stop = found.file.size if end is None else min(end, found.file.size)
        return found.file, self.verified(found.blob, start, stop)

    async def verified(self, blob: BlobRef, start: int, end: int) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` of ``blob``; the whole blob is read so it can be checked."""
        digest = hashlib.sha256()
        position = 0
        held: bytes | None = None
        hashing: asyncio.Future[None] | None = None
        async for data in self.backend.read(blob):
            # Each block is hashed in a worker thread while the one before it is being sent.
            if hashing is not None:
                await hashing
            hashing = asyncio.ensure_future(asyncio.to_thread(digest.update, data))
            low, position = position, position + len(data)
            a, b = max(low, start), min(position, end)
            if a < b:
                if held is not None:
                    yield held
                held = data[a - low : b - low] if (a, b) != (low, position) else data
        if hashing is not None:
            await hashing
        if position != blob.size or digest.digest() != blob.sha256:
            raise ArtifactCorrupted(
                f"artifact blob {blob.sha256.hex()} is corrupted: read {position} bytes "
                f"with sha256 {digest.hexdigest()}, expected {blob.size} bytes",
                sha256=blob.sha256.hex(),
            )
        if held is not None:
            yield held

    # -- helpers --------------------------------------------------------------------------

    async def _locate(self, run_id: uuid.UUID, path: str) -> _Located:
        async with self.read() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("artifacts.get"), {"run_id": run_id, "path": path})
            row = await cur.fetchone()
            if row is None:
                await self._require_run(conn, run_id)
                raise NotFound(f"run {run_id.hex} has no artifact {path!r}", path=path)
        return _located(row)

    async def _require_run(self, conn: Conn, run_id: uuid.UUID) -> str:
        cur = await conn.execute(query("artifacts.run_exists"), {"run_id": run_id})
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"run {run_id.hex} does not exist", run_id=run_id.hex)
        return cast(str, row[0])

    async def _check_run(self, run_id: uuid.UUID, *, active: bool) -> None:
        async with self.read() as conn:
            stage = await self._require_run(conn, run_id)
        if active and stage != "active":
            raise InvalidState(f"run {run_id.hex} is deleted; restore it first")

    async def _lock_active_run(self, conn: Conn, run_id: uuid.UUID) -> None:
        cur = await conn.execute(query("artifacts.lock_run"), {"run_id": run_id})
        row = await cur.fetchone()
        if row is None:
            raise NotFound(f"run {run_id.hex} does not exist", run_id=run_id.hex)
        if row[0] != "active":
            raise InvalidState(f"run {run_id.hex} is deleted; restore it first")
