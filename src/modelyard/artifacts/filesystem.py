"""The ``file:///dir`` store: one file per content, named by its sha256.

Layout under the root::

    blobs/ab/cd/abcd...64 hex   the bytes of one content (sha256 hex), mode 0600
    staging/<uuid>.part         an upload being written; renamed into blobs/ when complete

Content addressing gives dedup for free and makes every file checkable with ``sha256sum``;
which run path names which blob is the index in PostgreSQL (docs/design.md says why). A blob
appears by ``rename`` of a fully written and fsynced staging file, so a reader can never see a
partial one, and a crashed upload leaves only a ``.part`` file that gc removes.
"""

from __future__ import annotations

import asyncio
import errno
import os
import re
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO, cast

from modelyard.artifacts.backend import Backend, BlobRef, Chunker, Conn, Staged, Swept
from modelyard.artifacts.location import StoreLocation
from modelyard.errors import ArtifactCorrupted, ArtifactStoreUnavailable, InsufficientStorage
from modelyard.sql import query

# Bytes per write or read of a blob file: one thread hop per 4 MiB keeps the hops' cost small.
FILE_BLOCK = 4 * 1024 * 1024

# The errors of a full disk (or quota): the write is refused, not the store unreachable.
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_HEX2 = re.compile(r"^[0-9a-f]{2}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _full(url: str, exc: OSError) -> InsufficientStorage:
    return InsufficientStorage(f"artifact store {url} is full; nothing was stored")


def _close_quietly(handle: BinaryIO) -> None:
    """Close after a failed write: flushing what is buffered may fail the same way again."""
    try:
        handle.close()
    except OSError:
        pass


def _install(staged: Path, target: Path) -> None:
    """Move a complete staging file into place, durably (the rename and its directory)."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # An existing file of the same name holds the same content (or is a damaged copy of it):
    # replacing it is always right.
    os.replace(staged, target)
    _fsync_dir(target.parent)


def _finish(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


class FileBackend(Backend):
    """Content-addressed files under a local or mounted directory."""

    def __init__(self, location: StoreLocation) -> None:
        self.url = location.url
        self.root = Path(location.path)

    def _blob_path(self, locator: str) -> Path:
        return self.root / locator

    @staticmethod
    def locator_for(sha256: bytes) -> str:
        digest = sha256.hex()
        return f"blobs/{digest[:2]}/{digest[2:4]}/{digest}"

    def _open_staging(self) -> tuple[Path, BinaryIO]:
        staging = self.root / "staging"
        try:
            staging.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = staging / f"{uuid.uuid4().hex}.part"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno in _FULL:
                raise _full(self.url, exc) from exc
            raise ArtifactStoreUnavailable(
                f"artifact store {self.url} is not writable: {exc.strerror}"
            ) from exc
        return path, os.fdopen(fd, "wb")

    async def stage(self, conn: Conn | None, source: AsyncIterable[bytes], limit: int) -> Staged:
        path, handle = await asyncio.to_thread(self._open_staging)
        chunker = Chunker(limit)
        try:
            async for block in chunker.chunks(source, FILE_BLOCK):
                await asyncio.to_thread(handle.write, block)
            await asyncio.to_thread(_finish, handle)
        except BaseException as exc:
            # The partial file goes, whatever closing it says: no .part is left for gc.
            _close_quietly(handle)
            path.unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise _full(self.url, exc) from exc
            raise
        return Staged(sha256=chunker.sha256, size=chunker.size, handle=path)

    async def adopt(self, source: AsyncIterable[bytes], limit: int, file: Path) -> Staged | None:
        """Move ``file`` into staging when it is on the store's filesystem (a rename, no copy)."""
        staging = self.root / "staging"
        try:
            await asyncio.to_thread(staging.mkdir, parents=True, exist_ok=True, mode=0o700)
            same = (await asyncio.to_thread(os.stat, staging)).st_dev == (
                await asyncio.to_thread(os.stat, file)
            ).st_dev
        except OSError:
            return None  # the ordinary staging path reports what is wrong
        if not same:
            return None
        chunker = Chunker(limit)
        async for _ in chunker.chunks(source, FILE_BLOCK):
            pass  # hashed and counted; the bytes are in ``file`` already
        path = staging / f"{uuid.uuid4().hex}.part"

        def take_over() -> None:
            fd = os.open(file, os.O_RDONLY)
            try:
                os.fsync(fd)  # durable before it is renamed into blobs/ by publish
            finally:
                os.close(fd)
            os.chmod(file, 0o600)
            os.utime(file)  # gc sweeps staging files by age: this one is fresh
            os.replace(file, path)

        await asyncio.to_thread(take_over)
        return Staged(sha256=chunker.sha256, size=chunker.size, handle=path)

    async def publish(self, conn: Conn, staged: Staged) -> int:
        locator = self.locator_for(staged.sha256)
        try:
            await asyncio.to_thread(_install, cast(Path, staged.handle), self._blob_path(locator))
        except OSError as exc:
            if exc.errno in _FULL:  # no room for a new blobs/ directory
                raise _full(self.url, exc) from exc
            raise
        cur = await conn.execute(
            query("artifacts.insert_blob"),
            {
                "store_url": self.url,
                "sha256": staged.sha256,
                "size": staged.size,
                "locator": locator,
            },
        )
        row = await cur.fetchone()
        assert row is not None
        return cast(int, row[0])

    async def discard(self, conn: Conn | None, staged: Staged) -> None:
        cast(Path, staged.handle).unlink(missing_ok=True)

    async def read(self, blob: BlobRef) -> AsyncIterator[bytes]:
        assert blob.locator is not None
        path = self._blob_path(blob.locator)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise ArtifactCorrupted(
                f"the bytes of blob {blob.sha256.hex()} are missing from {self.url}",
                sha256=blob.sha256.hex(),
            ) from None
        try:
            while data := await asyncio.to_thread(handle.read, FILE_BLOCK):
                yield data
        finally:
            handle.close()

    async def remove(self, blob: BlobRef) -> None:
        if blob.locator is not None:
            await asyncio.to_thread(self._blob_path(blob.locator).unlink, True)

    def blob_directories(self) -> list[Path]:
        """The leaf directories of ``blobs/`` (``blobs/ab/cd``), at most 65,536."""
        blobs = self.root / "blobs"
        if not blobs.is_dir():
            return []
        return sorted(
            leaf
            for top in blobs.iterdir()
            if top.is_dir() and _HEX2.match(top.name)
            for leaf in top.iterdir()
            if leaf.is_dir() and _HEX2.match(leaf.name)
        )

    @staticmethod
    def blob_files(directory: Path) -> dict[bytes, Path]:
        """The blob files of one leaf directory by sha256 (other names are not ours)."""
        found = {}
        for entry in directory.iterdir():
            if (
                _HEX64.match(entry.name)
                and entry.name[:4] == directory.parent.name + directory.name
            ):
                found[bytes.fromhex(entry.name)] = entry
        return found

    async def sweep(self, older_than_seconds: float, dry_run: bool) -> list[Swept]:
        return await asyncio.to_thread(self._sweep, older_than_seconds, dry_run)

    def _sweep(self, older_than_seconds: float, dry_run: bool) -> list[Swept]:
        # A live upload writes its .part file at least every chunk, so its mtime stays recent.
        cutoff = time.time() - older_than_seconds
        swept: list[Swept] = []
        staging = self.root / "staging"
        if not staging.is_dir():
            return swept
        for entry in staging.iterdir():
            try:
                info = entry.stat()
            except FileNotFoundError:
                continue  # published or discarded meanwhile
            if entry.suffix == ".part" and info.st_mtime < cutoff:
                swept.append(Swept(what=f"{self.url}/staging/{entry.name}", size=info.st_size))
                if not dry_run:
                    entry.unlink(missing_ok=True)
        return swept
