"""What a store backend does: stage bytes, publish them as a blob, read, remove, sweep.

The :class:`~modelyard.artifacts.store.ArtifactStore` owns the index in PostgreSQL (which run path
names which blob) and the locking; a backend only moves bytes. Staging hashes and counts the bytes
as they stream through (:class:`Chunker`), so no backend ever holds more than one chunk of an
upload in memory, and a backend never decides what is visible: a blob is referenced only after
``publish`` returned, inside the transaction that commits the reference.
"""

from __future__ import annotations

import asyncio
import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from modelyard.errors import PayloadTooLarge

Conn = AsyncConnection[tuple[object, ...]]

# Bytes per chunk: a postgresql-store row, a file read, a unit of hashing. Big enough that
# per-chunk costs vanish, small enough that a few in flight per transfer stay cheap.
CHUNK_SIZE = 1024 * 1024


@dataclass
class Staged:
    """Bytes written to a backend's staging area, not yet a blob."""

    sha256: bytes
    size: int
    # Backend-specific handle: a postgresql blob id, a temporary file, an S3 multipart upload.
    handle: Any


@dataclass(frozen=True)
class BlobRef:
    """A published blob as the index knows it."""

    blob_id: int
    sha256: bytes
    size: int
    locator: str | None


@dataclass(frozen=True)
class Swept:
    """Something gc removed (or would remove) from a backend's staging area."""

    what: str
    size: int


class Chunker:
    """Regroups an incoming byte stream into blocks of one size, hashing and counting as it goes.

    Raises :class:`PayloadTooLarge` as soon as more than ``limit`` bytes arrived, before they are
    stored. Each byte is copied once (into its block), and a large block is hashed in a worker
    thread while the consumer stores it (hashlib releases the GIL), so hashing and storing use
    both cores instead of taking turns on the event loop.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> bytes:
        """The digest of every byte yielded; valid once the iteration is exhausted."""
        return self._hash.digest()

    async def chunks(
        self, source: AsyncIterable[bytes], size: int = CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        pending: list[bytes | memoryview] = []
        held = 0
        hashing: asyncio.Future[None] | None = None
        async for piece in source:
            if not piece:
                continue
            self.size += len(piece)
            if self.size > self.limit:
                raise PayloadTooLarge(f"artifact larger than {self.limit} bytes", limit=self.limit)
            pending.append(piece)
            held += len(piece)
            while held >= size:
                block = _take(pending, size)
                held -= size
                hashing = await self._hash_next(hashing, block)
                yield block
        if held:
            block = b"".join(pending)
            hashing = await self._hash_next(hashing, block)
            yield block
        if hashing is not None:
            await hashing

    async def _hash_next(
        self, previous: asyncio.Future[None] | None, block: bytes
    ) -> asyncio.Future[None] | None:
        """Hash ``block`` after ``previous`` (order matters): in a thread if it is large."""
        if previous is not None:
            await previous
        if len(block) < _HASH_IN_THREAD:
            self._hash.update(block)
            return None
        return asyncio.ensure_future(asyncio.to_thread(self._hash.update, block))


# Below this a thread hop costs more than hashing in place.
_HASH_IN_THREAD = 256 * 1024


def _take(pending: list[bytes | memoryview], size: int) -> bytes:
    """The first ``size`` bytes of ``pending`` as one block (one copy); the rest stays."""
    parts: list[bytes | memoryview] = []
    need = size
    while need:
        piece = pending[0]
        if len(piece) <= need:
            parts.append(pending.pop(0))
            need -= len(piece)
        else:
            view = memoryview(piece)
            parts.append(view[:need])
            pending[0] = view[need:]
            need = 0
    return parts[0] if len(parts) == 1 and isinstance(parts[0], bytes) else b"".join(parts)


class Backend(ABC):
    """Bytes of blobs in one store (the index and the locks live in ArtifactStore)."""

    # The store URL, recorded on every blob so a blob is only read from where it was written.
    url: str
    # True when staging writes through the database connection of the publishing transaction
    # (postgresql): the upload is then one transaction and a dropped one leaves nothing at all.
    stages_in_transaction: bool = False
    # False when the bytes are rows of the schema (postgresql): a backup's snapshot holds them,
    # so removing them need not wait for backups.
    bytes_outside_database: bool = True

    @abstractmethod
    async def stage(self, conn: Conn | None, source: AsyncIterable[bytes], limit: int) -> Staged:
        """Write ``source`` to the staging area; ``conn`` is given iff stages_in_transaction."""

    async def adopt(self, source: AsyncIterable[bytes], limit: int, file: Path) -> Staged | None:
        """Stage the local ``file`` by taking it over instead of copying it; None if impossible.

        ``source`` is the content of ``file`` as its owner reads and checks it (the multipart
        assembly): a backend that adopts consumes it to hash and count, writing nothing, and
        leaves it untouched when it returns None (the caller then stages ``source`` as usual).
        """
        return None

    @abstractmethod
    async def publish(self, conn: Conn, staged: Staged) -> int:
        """Make ``staged`` the blob of its content and insert its row; return the blob id.

        Called under the content lock, when no blob of this content exists in this store.
        """

    @abstractmethod
    async def discard(self, conn: Conn | None, staged: Staged) -> None:
        """Forget ``staged`` (a duplicate of an existing blob, or a failed upload)."""

    @abstractmethod
    def read(self, blob: BlobRef) -> AsyncIterator[bytes]:
        """The raw bytes of ``blob`` in order; the caller verifies size and sha256."""

    @abstractmethod
    async def remove(self, blob: BlobRef) -> None:
        """Delete the bytes of an unreferenced blob (gc, under the content lock)."""

    @abstractmethod
    async def sweep(self, older_than_seconds: float, dry_run: bool) -> list[Swept]:
        """Remove staged uploads untouched for ``older_than_seconds`` (abandoned partials)."""

    async def close(self) -> None:  # noqa: B027 - most backends hold nothing to release
        """Release clients or connections the backend holds."""
