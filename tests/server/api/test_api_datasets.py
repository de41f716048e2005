"""``/api/v1/datasets`` and runs' ``inputs``/``outputs`` over HTTP, errors in the one shape."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, new_run, ok

pytestmark = pytest.mark.anyio

SCHEMA = {"mlflow_colspec": [{"type": "double", "name": "x", "required": True}]}


async def test_log_a_version_twice_and_read_it_back(client: httpx.AsyncClient) -> None:
    body = {
        "name": "iris",
        "digest": "abc123",
        "source_type": "s3",
        "source": "s3://bucket/iris.csv",
        "schema": SCHEMA,
        "row_count": 150,
        "profile": {"num_rows": 150},
    }
    first = ok(await client.post(f"{API}/datasets", json=body))
    assert first["schema"] == SCHEMA and first["profile"] == {"num_rows": 150}
    assert first["row_count"] == 150 and first["digest"] == "abc123"
    again = ok(await client.post(f"{API}/datasets", json={**body, "source": "elsewhere"}))
    assert again == first
    assert ok(await client.get(f"{API}/datasets/iris/versions/abc123")) == first
    dataset = ok(await client.get(f"{API}/datasets/iris"))
    assert dataset["name"] == "iris" and dataset["version_count"] == 1
    listing = ok(await client.get(f"{API}/datasets"))
    assert [d["name"] for d in listing["items"]] == ["iris"]
    versions = ok(await client.get(f"{API}/datasets/iris/versions"))
    assert versions["items"] == [first] and versions["next_page_token"] is None


async def test_json_text_comes_back_byte_for_byte(client: httpx.AsyncClient) -> None:
    raw = b'{"name": "n", "digest": "d", "schema": {"z": 1,   "a": [1, 2]}}'
    response = await client.post(
        f"{API}/datasets", content=raw, headers={"content-type": "application/json"}
    )
    ok(response)
    assert b'"schema":{"z": 1,   "a": [1, 2]}' in response.content


async def test_run_inputs_and_outputs(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    logged = ok(
        await client.post(
            f"{API}/runs/{run_id}/inputs",
            json={
                "datasets": [
                    {"name": "iris", "digest": "d1", "context": "training"},
                    {"name": "iris", "digest": "d2", "tags": {"mlflow.data.context": "eval"}},
                ]
            },
        )
    )
    assert [(i["dataset"]["digest"], i["context"]) for i in logged["datasets"]] == [
        ("d1", "training"),
        ("d2", "eval"),
    ]
    inputs = ok(await client.get(f"{API}/runs/{run_id}/inputs"))
    assert inputs == logged
    ok(
        await client.post(
            f"{API}/runs/{run_id}/outputs", json={"datasets": [{"name": "preds", "digest": "p1"}]}
        )
    )
    outputs = ok(await client.get(f"{API}/runs/{run_id}/outputs"))
    assert [o["dataset"]["name"] for o in outputs["datasets"]] == ["preds"]


async def test_errors_have_the_one_shape(client: httpx.AsyncClient) -> None:
    missing = "0" * 32
    assert_error(await client.get(f"{API}/datasets/nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        await client.get(f"{API}/datasets/nope/versions/d"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(await client.get(f"{API}/runs/{missing}/inputs"), 404, "RESOURCE_DOES_NOT_EXIST")
    body = {"datasets": [{"name": "n", "digest": "d"}]}
    response = await client.post(f"{API}/runs/{missing}/outputs", json=body)
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    run_id = await new_run(client)
    response = await client.post(f"{API}/runs/{run_id}/inputs", json={"datasets": []})
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == "datasets"
    for bad in (
        {"datasets": [{"name": "n"}]},
        {"datasets": [{"name": "n", "digest": "d", "row_count": -1}]},
        {"datasets": [{"name": "n", "digest": "d", "colour": "red"}]},
        {"datasets": [{"name": "", "digest": "d"}]},
    ):
        response = await client.post(f"{API}/runs/{run_id}/inputs", json=bad)
        assert_error(response, 400, "MALFORMED_REQUEST")
    response = await client.post(
        f"{API}/runs/{run_id}/inputs", json={"datasets": [{"name": "n", "digest": "a b"}]}
    )
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == "digest"
    # jsonb cannot hold NUL: the field is named, nothing is stored (an escaped backslash is fine).
    for field in ("schema", "profile"):
        for nul in ({"a": "x\u0000"}, {"k\u0000": 1}, [["\u0000"]]):
            dataset = {"name": "n", "digest": "d", field: nul}
            response = await client.post(
                f"{API}/runs/{run_id}/inputs", json={"datasets": [dataset]}
            )
            assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == field
    assert ok(await client.get(f"{API}/runs/{run_id}/inputs")) == {"datasets": [], "models": []}
    backslash = {"name": "n", "digest": "d2", "profile": {"a": "\\u0000"}}
    ok(await client.post(f"{API}/runs/{run_id}/inputs", json={"datasets": [backslash]}))


async def test_openapi_states_the_limits(client: httpx.AsyncClient) -> None:
    doc = ok(await client.get(f"{API}/openapi.json"))
    spec = doc["components"]["schemas"]["DatasetSpec"]
    assert spec["properties"]["name"]["maxLength"] == 500
    assert spec["properties"]["digest"]["maxLength"] == 256
    assert spec["required"] == ["name", "digest"]
    batch = doc["components"]["schemas"]["LogInputs"]["properties"]["datasets"]
    assert batch["maxItems"] == 1000
