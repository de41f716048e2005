"""MLflow 2's ``runs/log-model`` and run search by input datasets, over HTTP."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

pytestmark = pytest.mark.anyio

API = "/api/2.0/mlflow"


async def call(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{API}/{path}", json=body)


async def new_run(client: httpx.AsyncClient, experiment_id: str = "0") -> str:
    response = await call(client, "runs/create", {"experiment_id": experiment_id})
    run_id: str = response.json()["run"]["info"]["run_id"]
    return run_id


def model(run_id: str, path: str) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "artifact_path": path,
        "utc_time_created": "2026-12-03 10:00:00.000000",
        "flavors": {"python_function": {"loader_module": "mlflow.sklearn"}},
    }


async def history(client: httpx.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    run = (await client.get(f"{API}/runs/get", params={"run_id": run_id})).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    found: list[dict[str, Any]] = json.loads(tags["mlflow.log-model.history"])
    return found


async def test_log_model_appends_to_the_runs_model_history(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    for path in ("model", "other"):
        body = {"run_id": run_id, "model_json": json.dumps(model(run_id, path))}
        response = await call(client, "runs/log-model", body)
        assert response.status_code == 200, response.text
        assert response.json() == {}
    assert [m["artifact_path"] for m in await history(client, run_id)] == ["model", "other"]
    assert (await history(client, run_id))[0] == model(run_id, "model")


async def test_concurrent_log_model_calls_all_land(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)

    async def log(index: int) -> None:
        body = {"run_id": run_id, "model_json": json.dumps(model(run_id, f"m{index}"))}
        response = await call(client, "runs/log-model", body)
        assert response.status_code == 200, response.text

    async with anyio.create_task_group() as group:
        for index in range(8):
            group.start_soon(log, index)
    paths = sorted(m["artifact_path"] for m in await history(client, run_id))
    assert paths == sorted(f"m{i}" for i in range(8))


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"model_json": "{}"}, 400, "INVALID_PARAMETER_VALUE", "run_id"),
        ({}, 400, "INVALID_PARAMETER_VALUE", "model_json"),
        ({"model_json": "not json"}, 400, "INVALID_PARAMETER_VALUE", "not valid JSON"),
        ({"model_json": "[1]"}, 400, "INVALID_PARAMETER_VALUE", "JSON object"),
        ({"model_json": '{"run_id": "x"}'}, 400, "INVALID_PARAMETER_VALUE", "artifact_path"),
    ],
)
async def test_log_model_refuses_bad_input(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, words: str
) -> None:
    run_id = await new_run(client)
    body = {"run_id": run_id, **body} if "model_json" in body else body | {"run_id": run_id}
    if words == "run_id":
        body.pop("run_id")
    response = await call(client, "runs/log-model", body)
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code
    assert words in response.json()["message"]


async def test_log_model_on_a_missing_or_deleted_run(client: httpx.AsyncClient) -> None:
    missing = "0" * 32
    body = {"run_id": missing, "model_json": json.dumps(model(missing, "m"))}
    response = await call(client, "runs/log-model", body)
    assert (response.status_code, response.json()["error_code"]) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    run_id = await new_run(client)
    await call(client, "runs/delete", {"run_id": run_id})
    body = {"run_id": run_id, "model_json": json.dumps(model(run_id, "m"))}
    response = await call(client, "runs/log-model", body)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


async def test_a_history_tag_that_is_not_a_list_is_kept(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    tag = {"run_id": run_id, "key": "mlflow.log-model.history", "value": "free text"}
    await call(client, "runs/set-tag", tag)
    body = {"run_id": run_id, "model_json": json.dumps(model(run_id, "m"))}
    response = await call(client, "runs/log-model", body)
    assert response.status_code == 400, response.text
    run = (await client.get(f"{API}/runs/get", params={"run_id": run_id})).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["mlflow.log-model.history"] == "free text"


async def test_search_runs_by_dataset(client: httpx.AsyncClient) -> None:
    created = await call(client, "experiments/create", {"name": "ds"})
    experiment_id = created.json()["experiment_id"]
    reader, idle = await new_run(client, experiment_id), await new_run(client, experiment_id)
    dataset = {"name": "train", "digest": "d1", "source_type": "local", "source": "{}"}
    tags = [{"key": "mlflow.data.context", "value": "training"}]
    inputs = {"run_id": reader, "datasets": [{"dataset": dataset, "tags": tags}]}
    assert (await call(client, "runs/log-inputs", inputs)).status_code == 200
    for text, expected in (
        ("datasets.name = 'train'", [reader]),
        ("datasets.digest IN ('d1', 'd2')", [reader]),
        ("datasets.context = 'training'", [reader]),
        ("datasets.context = 'eval'", []),
        ("datasets.name IS NULL", [idle]),
    ):
        search = {"experiment_ids": [experiment_id], "filter": text}
        found = (await call(client, "runs/search", search)).json().get("runs", [])
        assert [r["info"]["run_id"] for r in found] == expected, text
    bad = {"experiment_ids": [experiment_id], "filter": "datasets.rows = 'x'"}
    response = await call(client, "runs/search", bad)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
