"""``/api/v1/logged-models`` and model inputs/outputs of runs over HTTP."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, create_model, new_run, ok

pytestmark = pytest.mark.anyio


async def test_log_a_model_upload_its_files_finalize_and_register(
    client: httpx.AsyncClient,
) -> None:
    run_id = await new_run(client)
    body = {"name": "clf", "source_run_id": run_id, "flavor": "sklearn", "params": {"a": "1"}}
    model = ok(await client.post(f"{API}/logged-models", json=body), 201)
    model_id = model["model_id"]
    assert model["status"] == "PENDING" and model["params"] == {"a": "1"}
    finalize = f"{API}/logged-models/{model_id}/finalize"
    assert_error(await client.post(finalize, json={"status": "READY"}), 409, "INVALID_STATE")
    upload = f"{API}/runs/{run_id}/artifacts/{model['artifact_path']}/MLmodel"
    assert (await client.put(upload, content=b'{"flavors": {}}')).status_code < 300
    ready = ok(await client.post(finalize, json={"status": "READY"}))
    assert ready["status"] == "READY"
    ok(await client.put(f"{API}/logged-models/{model_id}/tags/stage", json={"value": "x"}), 204)
    assert ok(await client.get(f"{API}/logged-models/{model_id}"))["tags"] == {"stage": "x"}
    ok(await client.delete(f"{API}/logged-models/{model_id}/tags/stage"), 204)
    listed = ok(
        await client.get(f"{API}/logged-models", params={"experiment_id": model["experiment_id"]})
    )
    assert [m["model_id"] for m in listed["items"]] == [model_id]

    out = {"models": [{"model_id": model_id, "step": 3}]}
    ok(await client.post(f"{API}/runs/{run_id}/outputs", json=out))
    assert ok(await client.get(f"{API}/runs/{run_id}/outputs"))["models"] == out["models"]
    await create_model(client, "clf")
    version = ok(
        await client.post(
            f"{API}/models/clf/versions",
            json={"source": f"models:/{model_id}", "model_id": model_id, "run_id": run_id},
        ),
        201,
    )
    assert version["model_id"] == model_id
    graph = ok(await client.get(f"{API}/lineage", params={"uri": "models:/clf/1"}))
    assert f"logged_model:{model_id}" in {n["id"] for n in graph["nodes"]}


async def test_errors(client: httpx.AsyncClient) -> None:
    missing = "m-" + "0" * 32
    assert_error(await client.get(f"{API}/logged-models/{missing}"), 404, "RESOURCE_DOES_NOT_EXIST")
    response = await client.get(f"{API}/logged-models/m-xyz")
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == "model_id"
    response = await client.get(f"{API}/logged-models")
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == "experiment_id"
    response = await client.post(f"{API}/logged-models", json={"name": "x"})
    assert_error(response, 400, "INVALID_PARAMETER_VALUE")
    run_id = await new_run(client)
    response = await client.post(
        f"{API}/runs/{run_id}/inputs", json={"models": [{"model_id": missing}]}
    )
    assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    response = await client.post(
        f"{API}/logged-models/{missing}/finalize", json={"status": "PENDING"}
    )
    assert_error(response, 400, "MALFORMED_REQUEST")
