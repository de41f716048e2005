"""Streams half an upload into an artifact store, says so on stdout, then waits to be killed.

Run by tests/artifacts/test_gc.py as ``partial_upload.py DSN SCHEMA STORE_URL RUN_ID``: the test
kills it with SIGKILL, like a server that crashed mid-upload, so no cleanup code ever runs.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator

from modelyard.artifacts.store import ArtifactStore, open_backend
from modelyard.db.pool import open_pool

# Past the second S3 part (8 MiB each; the first is sent once the second is complete) and many
# postgresql rows and file blocks.
HALF = 17 * 1024 * 1024


async def _half_then_hang() -> AsyncIterator[bytes]:
    yield b"\x5a" * HALF
    # Asked for more: everything before was handed to the backend.
    print("half sent", flush=True)
    await asyncio.Event().wait()


async def main(dsn: str, schema: str, store_url: str, run_id: str) -> None:
    pool = await open_pool(dsn, schema)
    store = ArtifactStore(pool, open_backend(store_url, pool))
    await store.put(uuid.UUID(run_id), "partial.bin", _half_then_hang())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
