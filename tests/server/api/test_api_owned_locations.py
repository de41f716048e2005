"""The server owns artifact locations: a client's ``artifact_location`` or version ``source``
is refused (400, the JSON error shape) unless it lies inside the server's artifact store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from api_support import API, assert_error, create_model, new_run, ok

from modelyard.server import create_app
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio

HOSTILE = [
    "/etc/passwd",
    "file:///etc/passwd",
    "../../../../etc",
    "s3://someone-elses-bucket/x",
    "http://169.254.169.254/latest/meta-data/",
    "exp\u0000\u0001\u001b[31m",
    "file:///tmp/%2e%2e/etc",
]


@pytest.fixture
async def file_store_client(
    app_database_url: str, settings: Settings, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    configured = dataclasses.replace(settings, artifact_store=f"file://{tmp_path}/store")
    app = create_app(configured, app_database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as c:
            yield c


@pytest.mark.parametrize("location", HOSTILE)
async def test_a_foreign_experiment_location_is_refused(
    client: httpx.AsyncClient, location: str
) -> None:
    body = {"name": "exp", "artifact_location": location}
    details = assert_error(
        await client.post(f"{API}/experiments", json=body), 400, "INVALID_PARAMETER_VALUE"
    )
    assert details["field"] == "artifact_location"
    names = [e["name"] for e in ok(await client.get(f"{API}/experiments"))["items"]]
    assert "exp" not in names


async def test_a_location_inside_a_file_store(
    file_store_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    inside = f"file://{tmp_path}/store/team/exp"
    body = {"name": "exp", "artifact_location": inside}
    created = ok(await file_store_client.post(f"{API}/experiments", json=body), 201)
    assert created["artifact_location"] == inside
    escape = {"name": "exp2", "artifact_location": f"file://{tmp_path}/store/../elsewhere"}
    assert_error(
        await file_store_client.post(f"{API}/experiments", json=escape),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert ok(await file_store_client.post(f"{API}/experiments", json={"name": "e3"}), 201)[
        "artifact_location"
    ] is None


@pytest.mark.parametrize("source", HOSTILE)
async def test_a_version_source_outside_the_store_is_refused(
    client: httpx.AsyncClient, source: str
) -> None:
    await create_model(client, "m1")
    url = f"{API}/models/m1/versions"
    details = assert_error(
        await client.post(url, json={"source": source}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert details["field"] == "source"
    assert ok(await client.get(url))["items"] == []


async def test_sources_inside_the_servers_artifacts(client: httpx.AsyncClient) -> None:
    await create_model(client, "m1")
    run_id = await new_run(client)
    url = f"{API}/models/m1/versions"
    version = ok(await client.post(url, json={"source": f"runs:/{run_id}/model"}), 201)
    assert version["source"] == f"runs:/{run_id}/model"
    traversal = {"source": f"runs:/{run_id}/../../etc/passwd"}
    assert_error(await client.post(url, json=traversal), 400, "INVALID_PARAMETER_VALUE")


async def test_the_open_api_document_states_the_rule(client: httpx.AsyncClient) -> None:
    schemas = ok(await client.get(f"{API}/openapi.json"))["components"]["schemas"]
    location = schemas["CreateExperiment"]["properties"]["artifact_location"]
    assert "inside the server's artifact store" in str(location)
    source = schemas["CreateVersion"]["properties"]["source"]
    assert "runs:/RUN_ID" in str(source) and "models:/m-ID" in str(source)
