"""A preview reads only the head of a large artifact: the bytes pulled from the real artifact
store's stream are counted, for a preview and for a download of the same file."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from modelyard.server import create_app
from modelyard.server.ui.artifacts import PREVIEW_BYTES
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio

SIZE = 8 * 1024 * 1024


async def test_a_preview_never_reads_a_large_file_whole(
    runtime_url: str, settings: Settings
) -> None:
    app = create_app(settings, runtime_url)
    pulled: list[int] = []
    async with app.router.lifespan_context(app):
        store = app.state.artifacts
        real_open = store.open

        async def counting_open(*args: Any, **kwargs: Any) -> Any:
            info, stream = await real_open(*args, **kwargs)
            pulled.append(0)

            async def counted() -> AsyncIterator[bytes]:
                async for data in stream:
                    pulled[-1] += len(data)
                    yield data

            return info, counted()

        store.open = counting_open
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as client:
            exp = await client.post("/api/v1/experiments", json={"name": "preview"})
            run = await client.post(
                "/api/v1/runs", json={"experiment_id": exp.json()["experiment_id"]}
            )
            run_id = run.json()["run_id"]
            data = os.urandom(SIZE // 2).hex().encode()  # 8 MiB of text
            stored = await client.put(f"/api/v1/runs/{run_id}/artifacts/big.txt", content=data)
            assert stored.status_code == 201, stored.text

            preview = await client.get(
                f"/ui/runs/{run_id}/artifacts/view", params={"path": "big.txt"}
            )
            assert preview.status_code == 200
            assert data[:1000].decode() in preview.text
            assert data[-1000:].decode() not in preview.text
            assert PREVIEW_BYTES <= pulled[-1] < SIZE // 4  # the head and a chunk at most

            download = await client.get(
                f"/ui/runs/{run_id}/artifacts/download", params={"path": "big.txt"}
            )
            assert download.content == data
            assert pulled[-1] == SIZE
