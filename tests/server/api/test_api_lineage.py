"""``GET /api/v1/lineage`` over HTTP: the graph both ways, and bad URIs in the one error shape."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, create_model, create_version, new_run, ok

pytestmark = pytest.mark.anyio


async def test_lineage_both_ways(client: httpx.AsyncClient) -> None:
    writer = await new_run(client, "prep")
    reader = await new_run(client, "train")
    ok(
        await client.post(
            f"{API}/runs/{writer}/outputs", json={"datasets": [{"name": "f", "digest": "1"}]}
        )
    )
    body = {"datasets": [{"name": "f", "digest": "1", "context": "training"}]}
    ok(await client.post(f"{API}/runs/{reader}/inputs", json=body))
    await create_model(client, "m")
    await create_version(client, "m", run_id=reader)
    ok(await client.put(f"{API}/models/m/aliases/champion", json={"version": 1}))

    up = ok(await client.get(f"{API}/lineage", params={"uri": "models:/m@champion"}))
    assert up["root"] == "models:/m/1" and up["direction"] == "upstream"
    assert up["truncated"] is False and up["depth"] == 10
    assert {(e["source"], e["target"], e["kind"]) for e in up["edges"]} == {
        (f"run:{reader}", "models:/m/1", "registered"),
        ("dataset:f@1", f"run:{reader}", "input"),
        (f"run:{writer}", "dataset:f@1", "output"),
    }
    (training,) = [e for e in up["edges"] if e["kind"] == "input"]
    assert training["context"] == "training"
    down = ok(await client.get(f"{API}/lineage", params={"uri": "dataset:f@1", "depth": 1}))
    assert down["direction"] == "downstream"
    assert {n["id"] for n in down["nodes"]} == {"dataset:f@1", f"run:{reader}", "models:/m/1"}
    cut = ok(await client.get(f"{API}/lineage", params={"uri": "models:/m/1", "depth": 1}))
    assert cut["truncated"] is True


async def test_bad_requests(client: httpx.AsyncClient) -> None:
    details = assert_error(await client.get(f"{API}/lineage"), 400, "INVALID_PARAMETER_VALUE")
    assert details["field"] == "uri"
    response = await client.get(f"{API}/lineage", params={"uri": "s3://x"})
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == "uri"
    response = await client.get(f"{API}/lineage", params={"uri": "models:/m/1", "depth": 0})
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == "depth"
    response = await client.get(f"{API}/lineage", params={"uri": "models:/nope/1"})
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")


async def test_openapi_marks_uri_required(client: httpx.AsyncClient) -> None:
    doc = ok(await client.get(f"{API}/openapi.json"))
    params = {p["name"]: p for p in doc["paths"][f"{API}/lineage"]["get"]["parameters"]}
    assert params["uri"]["required"] is True
    assert params["depth"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 10,
    }
