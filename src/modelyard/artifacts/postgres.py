"""The ``postgresql`` store: blob bytes in ``artifact_chunk`` rows, next to the index.

An upload is one transaction: the staged blob row and its chunks are written on the connection
that then publishes them, so a dropped connection or a killed client rolls everything back and
leaves nothing, not even for gc. Each chunk is one INSERT with the bytes as a binary parameter:
``COPY FROM`` would save a round trip per MiB, but PostgreSQL refuses it on a table with
row-level security. Reads stream the chunks in order through single-row mode, one chunk in
memory at a time.

Why 1 MiB chunks, TOASTed: rows of 8,000 bytes stored in their heap page (``STORAGE PLAIN``)
cost PostgreSQL about a quarter less CPU to write but two to three times more to read (one
message per row, or an aggregate per read), so they were not worth a schema change
(BENCHMARKS.md, artifact transfer).
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import cast

from modelyard.artifacts.backend import Backend, BlobRef, Chunker, Conn, Staged, Swept
from modelyard.artifacts.location import DEFAULT_STORE_URL
from modelyard.sql import query
from modelyard.store._base import Pool, Repository


class PostgresBackend(Backend):
    """Chunks of 1 MiB in the modelyard schema (TOAST, uncompressed)."""

    url = DEFAULT_STORE_URL
    stages_in_transaction = True
    bytes_outside_database = False

    def __init__(self, pool: Pool) -> None:
        # Reads take their connection through a repository, for its search path and scope.
        self._reads = Repository(pool)

    async def stage(self, conn: Conn | None, source: AsyncIterable[bytes], limit: int) -> Staged:
        assert conn is not None, "the postgresql store stages inside the publishing transaction"
        chunker = Chunker(limit)
        cur = await conn.execute(query("artifacts.insert_staged_blob"), {"store_url": self.url})
        row = await cur.fetchone()
        assert row is not None
        blob_id = cast(int, row[0])
        seq = 0
        async for chunk in chunker.chunks(source):
            await conn.execute(
                query("artifacts.insert_chunk"), {"blob_id": blob_id, "seq": seq, "data": chunk}
            )
            seq += 1
        return Staged(sha256=chunker.sha256, size=chunker.size, handle=blob_id)

    async def publish(self, conn: Conn, staged: Staged) -> int:
        blob_id = cast(int, staged.handle)
        await conn.execute(
            query("artifacts.seal_blob"),
            {"blob_id": blob_id, "sha256": staged.sha256, "size": staged.size},
        )
        return blob_id

    async def discard(self, conn: Conn | None, staged: Staged) -> None:
        # Inside the upload's own transaction: the chunks were never visible to anyone.
        if conn is not None:
            await conn.execute(query("artifacts.delete_blob"), {"blob_id": staged.handle})

    async def read(self, blob: BlobRef) -> AsyncIterator[bytes]:
        async with self._reads.transaction() as conn:
            async with conn.cursor(binary=True) as cur:
                rows = cur.stream(query("artifacts.read_chunks"), {"blob_id": blob.blob_id})
                async for (data,) in rows:
                    yield cast(bytes, data)

    async def remove(self, blob: BlobRef) -> None:
        """Nothing to do: deleting the blob row cascades to its chunks in the same transaction."""

    async def sweep(self, older_than_seconds: float, dry_run: bool) -> list[Swept]:
        """Nothing to sweep: an unfinished upload is an uncommitted transaction."""
        return []
