"""What a store backend does: stage bytes, publish them as a blob, read, remove, sweep.

The :class:`~modelyard.artifacts.store.ArtifactStore` owns the index in PostgreSQL (which run path
names which blob) and the locking; a backend only moves bytes. Staging hashes and counts the bytes
as they stream through (:class:`Chunker`), so no backend ever holds more than one chunk of an
upload in memory, and a backend never decides what is visible: a blob is referenced only after
``publish`` returned, inside the transaction that commits the reference.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
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
    """Regroups an incoming byte stream into CHUNK_SIZE chunks, hashing and counting as it goes.

    Raises :class:`PayloadTooLarge` as soon as more than ``limit`` bytes arrived, before they are
    stored.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> bytes:
        return self._hash.digest()

    async def chunks(self, source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        buffer = bytearray()
        async for piece in source:
            if not piece:
                continue
            self.size += len(piece)
            if self.size > self.limit:
                raise PayloadTooLarge(
                    f"artifact larger than {self.limit} bytes", limit=self.limit
                )
            self._hash.update(piece)
            buffer += piece
            while len(buffer) >= CHUNK_SIZE:
                yield bytes(buffer[:CHUNK_SIZE])
                del buffer[:CHUNK_SIZE]
        if buffer:
            yield bytes(buffer)


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
