"""MLflow's run endpoints over HTTP: lifecycle, params, tags, metrics, batches, history, search."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

API = "/api/2.0/mlflow"


async def call(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Any:
    response = await client.request(method, f"{API}/{path}", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


async def error_code(client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> str:
    response = await client.request(method, f"{API}/{path}", **kwargs)
    assert response.status_code in (400, 404), response.text
    code: str = response.json()["error_code"]
    return code


async def new_run(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    created = await call(client, "POST", "runs/create", json={"experiment_id": "0", **body})
    run: dict[str, Any] = created["run"]
    return run


async def test_create_and_get_run_in_mlflow_shape(client: httpx.AsyncClient) -> None:
    run = await new_run(
        client,
        run_name="r",
        start_time=1_700_000_000_000,
        tags=[
            {"key": "mlflow.user", "value": "ada"},
            {"key": "mlflow.source.name", "value": "x.py"},
        ],
    )
    info = run["info"]
    assert info["run_id"] == info["run_uuid"] and len(info["run_id"]) == 32
    assert (info["experiment_id"], info["run_name"], info["status"]) == ("0", "r", "RUNNING")
    assert info["start_time"] == 1_700_000_000_000 and "end_time" not in info
    assert info["user_id"] == "ada"
    assert info["artifact_uri"] == f"mlflow-artifacts:/0/{info['run_id']}/artifacts"
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags == {"mlflow.user": "ada", "mlflow.source.name": "x.py", "mlflow.runName": "r"}
    got = await call(client, "GET", "runs/get", params={"run_id": info["run_id"]})
    assert got["run"]["info"] == info
    legacy = await call(client, "GET", "runs/get", params={"run_uuid": info["run_id"]})
    assert legacy["run"]["info"]["run_id"] == info["run_id"]


async def test_nested_run_parent_from_the_tag(client: httpx.AsyncClient) -> None:
    parent = await new_run(client)
    parent_id = parent["info"]["run_id"]
    child = await new_run(client, tags=[{"key": "mlflow.parentRunId", "value": parent_id}])
    ours = (await client.get(f"/api/v1/runs/{child['info']['run_id']}")).json()
    assert ours["parent_run_id"] == parent_id


async def test_update_delete_restore(client: httpx.AsyncClient) -> None:
    run_id = (await new_run(client))["info"]["run_id"]
    updated = await call(
        client,
        "POST",
        "runs/update",
        json={"run_id": run_id, "status": "FINISHED", "end_time": "1800000000000", "run_name": "n"},
    )
    info = updated["run_info"]
    assert (info["status"], info["end_time"], info["run_name"]) == (
        "FINISHED",
        1_800_000_000_000,
        "n",
    )
    assert await call(client, "POST", "runs/delete", json={"run_id": run_id}) == {}
    assert await error_code(
        client, "POST", "runs/set-tag", json={"run_id": run_id, "key": "k"}
    ) == ("INVALID_PARAMETER_VALUE")
    assert await call(client, "POST", "runs/restore", json={"run_id": run_id}) == {}
    bad = await error_code(client, "POST", "runs/update", json={"run_id": run_id, "status": "NOPE"})
    assert bad == "INVALID_PARAMETER_VALUE"


async def test_params_tags_metrics(client: httpx.AsyncClient) -> None:
    run_id = (await new_run(client))["info"]["run_id"]
    await call(
        client, "POST", "runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "1"}
    )
    conflict = await error_code(
        client, "POST", "runs/log-parameter", json={"run_id": run_id, "key": "p", "value": "2"}
    )
    assert conflict == "INVALID_PARAMETER_VALUE"
    await call(client, "POST", "runs/set-tag", json={"run_uuid": run_id, "key": "t", "value": "v"})
    await call(
        client,
        "POST",
        "runs/set-tag",
        json={"run_id": run_id, "key": "mlflow.runName", "value": "nm"},
    )
    await call(client, "POST", "runs/delete-tag", json={"run_id": run_id, "key": "t"})
    missing = await error_code(
        client, "POST", "runs/delete-tag", json={"run_id": run_id, "key": "t"}
    )
    assert missing == "RESOURCE_DOES_NOT_EXIST"
    for step, value in enumerate([1.5, "NaN", "Infinity", "-Infinity"]):
        await call(
            client,
            "POST",
            "runs/log-metric",
            json={
                "run_id": run_id,
                "key": "m",
                "value": value,
                "timestamp": "5",
                "step": str(step),
            },
        )
    run = (await call(client, "GET", "runs/get", params={"run_id": run_id}))["run"]
    assert run["info"]["run_name"] == "nm"
    assert run["data"]["params"] == [{"key": "p", "value": "1"}]
    assert run["data"]["metrics"] == [{"key": "m", "value": "-Infinity", "timestamp": 5, "step": 3}]
    history = await call(
        client, "GET", "metrics/get-history", params={"run_id": run_id, "metric_key": "m"}
    )
    assert [m["value"] for m in history["metrics"]] == [1.5, "NaN", "Infinity", "-Infinity"]
    assert "next_page_token" not in history


async def test_log_batch_limits_and_atomicity(client: httpx.AsyncClient) -> None:
    run_id = (await new_run(client))["info"]["run_id"]
    metrics = [{"key": "m", "value": i, "timestamp": 1, "step": i} for i in range(1000)]
    await call(client, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    for field, count in (("metrics", 1001), ("params", 101), ("tags", 101)):
        items: list[dict[str, Any]] = [
            {"key": f"k{i}", "value": "1", "timestamp": 1} for i in range(count)
        ]
        if field == "metrics":
            items = [{"key": "m", "value": 1, "timestamp": 1} for _ in range(count)]
        code = await error_code(
            client, "POST", "runs/log-batch", json={"run_id": run_id, field: items}
        )
        assert code == "INVALID_PARAMETER_VALUE", field
    # A bad metric key rolls back the params and tags of the same batch.
    code = await error_code(
        client,
        "POST",
        "runs/log-batch",
        json={
            "run_id": run_id,
            "params": [{"key": "p", "value": "1"}],
            "tags": [{"key": "t", "value": "1"}],
            "metrics": [{"key": "bad key!", "value": 1, "timestamp": 1}],
        },
    )
    assert code == "INVALID_PARAMETER_VALUE"
    run = (await call(client, "GET", "runs/get", params={"run_id": run_id}))["run"]
    assert run["data"]["params"] == []
    assert "t" not in {t["key"] for t in run["data"]["tags"]}


async def test_metric_history_pages(client: httpx.AsyncClient) -> None:
    run_id = (await new_run(client))["info"]["run_id"]
    # Steps 0..9, three points at step 4.
    metrics = [{"key": "m", "value": s, "timestamp": s, "step": s} for s in range(10)]
    metrics += [{"key": "m", "value": 40 + i, "timestamp": 100 + i, "step": 4} for i in range(2)]
    await call(client, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    seen: list[tuple[int, float]] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"run_id": run_id, "metric_key": "m", "max_results": 3}
        if token:
            params["page_token"] = token
        page = await call(client, "GET", "metrics/get-history", params=params)
        seen += [(m["step"], m["value"]) for m in page["metrics"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert len(seen) == 12 and pages == 4
    assert [step for step, _ in seen] == sorted(step for step, _ in seen)
    assert sorted(value for step, value in seen if step == 4) == [4, 40, 41]
    bad = await error_code(
        client,
        "GET",
        "metrics/get-history",
        params={"run_id": run_id, "metric_key": "m", "page_token": "x"},
    )
    assert bad == "INVALID_PARAMETER_VALUE"


async def test_history_bulk_interval(client: httpx.AsyncClient) -> None:
    runs = [(await new_run(client))["info"]["run_id"] for _ in range(2)]
    for run_id in runs:
        metrics = [{"key": "m", "value": s, "timestamp": s, "step": s} for s in range(100)]
        await call(client, "POST", "runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    found = await call(
        client,
        "GET",
        "metrics/get-history-bulk-interval",
        params={"run_ids": runs, "metric_key": "m", "max_results": 5},
    )
    by_run: dict[str, list[int]] = {}
    for point in found["metrics"]:
        by_run.setdefault(point["run_id"], []).append(point["step"])
    assert set(by_run) == set(runs)
    for steps in by_run.values():
        assert len(steps) == 5 and steps[0] == 0 and steps[-1] == 99
    window = await call(
        client,
        "GET",
        "metrics/get-history-bulk-interval",
        params={"run_ids": runs[0], "metric_key": "m", "start_step": 10, "end_step": 12},
    )
    assert [p["step"] for p in window["metrics"]] == [10, 11, 12]
    half = await error_code(
        client,
        "GET",
        "metrics/get-history-bulk-interval",
        params={"run_ids": runs[0], "metric_key": "m", "start_step": 10},
    )
    assert half == "INVALID_PARAMETER_VALUE"
    too_many = await error_code(
        client,
        "GET",
        "metrics/get-history-bulk-interval",
        params={"run_ids": [runs[0]] * 101, "metric_key": "m"},
    )
    assert too_many == "INVALID_PARAMETER_VALUE"


async def test_search_runs_filter_order_pages(client: httpx.AsyncClient) -> None:
    for i in range(5):
        run_id = (await new_run(client, run_name=f"s{i}"))["info"]["run_id"]
        await call(
            client,
            "POST",
            "runs/log-batch",
            json={"run_id": run_id, "metrics": [{"key": "m", "value": i, "timestamp": 1}]},
        )
    body = {"experiment_ids": ["0"], "filter": "metrics.m >= 1", "order_by": ["metrics.m DESC"]}
    found = await call(client, "POST", "runs/search", json={**body, "max_results": 2})
    assert [r["info"]["run_name"] for r in found["runs"]] == ["s4", "s3"]
    rest = await call(
        client, "POST", "runs/search", json={**body, "page_token": found["next_page_token"]}
    )
    assert [r["info"]["run_name"] for r in rest["runs"]] == ["s2", "s1"]
    assert "next_page_token" not in rest
    by_tag = await call(
        client,
        "POST",
        "runs/search",
        json={"experiment_ids": ["0"], "filter": "tags.`mlflow.runName` = 's2'"},
    )
    assert [r["info"]["run_name"] for r in by_tag["runs"]] == ["s2"]
    bad = await error_code(
        client, "POST", "runs/search", json={"experiment_ids": ["0"], "filter": "metrics.m <"}
    )
    assert bad == "INVALID_PARAMETER_VALUE"


async def test_log_inputs_and_run_inputs(client: httpx.AsyncClient) -> None:
    run_id = (await new_run(client))["info"]["run_id"]
    dataset = {
        "name": "train",
        "digest": "abc123",
        "source_type": "local",
        "source": '{"uri": "/data/train.csv"}',
        "schema": '{"mlflow_colspec": [{"type": "long", "name": "x"}]}',
        "profile": '{"num_rows": 3}',
    }
    tags = [{"key": "mlflow.data.context", "value": "training"}]
    await call(
        client,
        "POST",
        "runs/log-inputs",
        json={"run_id": run_id, "datasets": [{"dataset": dataset, "tags": tags}]},
    )
    run = (await call(client, "GET", "runs/get", params={"run_id": run_id}))["run"]
    (logged,) = run["inputs"]["dataset_inputs"]
    assert logged["dataset"] == dataset
    assert logged["tags"] == tags
    ours = (await client.get("/api/v1/datasets/train/versions/abc123")).json()
    assert ours["source_type"] == "local"


async def test_artifacts_list(client: httpx.AsyncClient) -> None:
    run_id = (await new_run(client))["info"]["run_id"]
    for path in ("a.txt", "dir/b.txt"):
        put = await client.put(f"/api/v1/runs/{run_id}/artifacts/{path}", content=b"hello")
        assert put.status_code in (200, 201), put.text
    root = await call(client, "GET", "artifacts/list", params={"run_id": run_id})
    assert root["root_uri"] == f"mlflow-artifacts:/0/{run_id}/artifacts"
    assert root["files"] == [
        {"path": "a.txt", "is_dir": False, "file_size": 5},
        {"path": "dir", "is_dir": True},
    ]
    inner = await call(client, "GET", "artifacts/list", params={"run_id": run_id, "path": "dir"})
    assert inner["files"] == [{"path": "dir/b.txt", "is_dir": False, "file_size": 5}]
    empty = await call(client, "GET", "artifacts/list", params={"run_id": run_id, "path": "nope"})
    assert empty["files"] == []
    missing = await error_code(client, "GET", "artifacts/list", params={"run_id": "0" * 32})
    assert missing == "RESOURCE_DOES_NOT_EXIST"
