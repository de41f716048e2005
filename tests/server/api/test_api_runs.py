"""``/api/v1/runs``: create, read, update, delete/restore, params and tags over HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest
from api_support import API, assert_error, create_experiment, create_run, new_run, ok

pytestmark = pytest.mark.anyio


async def test_create_and_get(client: httpx.AsyncClient) -> None:
    exp = await create_experiment(client, "e")
    run = await create_run(
        client,
        exp["experiment_id"],
        name="first",
        start_time=1_700_000_000_000,
        tags={"team": "a"},
        user_id="ana",
    )
    assert len(run["run_id"]) == 32 and int(run["run_id"], 16) >= 0
    assert run["name"] == "first"
    assert run["status"] == "RUNNING"
    assert run["start_time"] == 1_700_000_000_000
    assert run["experiment_id"] == exp["experiment_id"]
    assert run["tags"]["team"] == "a"
    assert (run["params"], run["metrics"]) == ({}, {})
    assert ok(await client.get(f"{API}/runs/{run['run_id']}")) == run
    dashed = str(uuid.UUID(run["run_id"]))
    assert ok(await client.get(f"{API}/runs/{dashed}"))["run_id"] == run["run_id"]


async def test_create_errors(client: httpx.AsyncClient) -> None:
    assert_error(
        await client.post(f"{API}/runs", json={"experiment_id": 9999}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert_error(
        await client.post(f"{API}/runs", json={"experiment_id": "one"}), 400, "MALFORMED_REQUEST"
    )
    assert_error(await client.post(f"{API}/runs", json={}), 400, "MALFORMED_REQUEST")
    exp = await create_experiment(client, "gone")
    ok(await client.delete(f"{API}/experiments/{exp['experiment_id']}"), 204)
    assert_error(
        await client.post(f"{API}/runs", json={"experiment_id": exp["experiment_id"]}),
        409,
        "INVALID_STATE",
    )
    parent = {"experiment_id": 1, "parent_run_id": "nope"}
    assert_error(await client.post(f"{API}/runs", json=parent), 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("bad", ["nope", "1234", "g" * 32])
async def test_a_malformed_run_id_is_400(client: httpx.AsyncClient, bad: str) -> None:
    details = assert_error(await client.get(f"{API}/runs/{bad}"), 400, "INVALID_PARAMETER_VALUE")
    assert details["field"] == "run_id"


async def test_unknown_run_is_404(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4().hex
    for response in (
        await client.get(f"{API}/runs/{missing}"),
        await client.patch(f"{API}/runs/{missing}", json={"name": "x"}),
        await client.delete(f"{API}/runs/{missing}"),
        await client.post(f"{API}/runs/{missing}/params", json={"params": {"a": "1"}}),
    ):
        assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")


async def test_patch_status_end_time_and_name(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}"
    renamed = ok(await client.patch(url, json={"name": "renamed"}))
    assert (renamed["name"], renamed["status"], renamed["end_time"]) == ("renamed", "RUNNING", None)
    start = renamed["start_time"]
    finished = ok(await client.patch(url, json={"status": "FINISHED", "end_time": start + 5}))
    assert (finished["status"], finished["end_time"]) == ("FINISHED", start + 5)
    assert ok(await client.get(url)) == finished


async def test_patch_errors(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}"
    assert_error(await client.patch(url, json={"status": "DONE"}), 400, "MALFORMED_REQUEST")
    # The run is RUNNING: an end_time alone conflicts with its stored status; with a
    # non-terminal status in the same body the body contradicts itself.
    assert_error(await client.patch(url, json={"end_time": 10**13}), 409, "INVALID_STATE")
    assert_error(
        await client.patch(url, json={"status": "RUNNING", "end_time": 10**13}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert_error(
        await client.patch(url, json={"status": "FAILED", "end_time": 1}), 409, "INVALID_STATE"
    )
    assert_error(await client.patch(url, json={"end_time": -1}), 400, "MALFORMED_REQUEST")
    after = ok(await client.get(url))
    assert (after["status"], after["end_time"]) == ("RUNNING", None)


async def test_delete_and_restore(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}"
    ok(await client.delete(url), 204)
    assert ok(await client.get(url))["lifecycle_stage"] == "deleted"
    assert_error(
        await client.post(f"{url}/params", json={"params": {"a": "1"}}), 409, "INVALID_STATE"
    )
    assert ok(await client.post(f"{url}/restore"))["lifecycle_stage"] == "active"
    assert_error(await client.post(f"{url}/restore"), 409, "INVALID_STATE")


async def test_params_are_immutable(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}"
    ok(await client.post(f"{url}/params", json={"params": {"lr": "0.1", "layers": "3"}}), 204)
    ok(await client.post(f"{url}/params", json={"params": {"lr": "0.1"}}), 204)  # same value: ok
    response = await client.post(f"{url}/params", json={"params": {"new": "x", "lr": "0.2"}})
    assert_error(response, 409, "PARAM_CONFLICT")
    assert ok(await client.get(url))["params"] == {"lr": "0.1", "layers": "3"}
    assert_error(
        await client.post(f"{url}/params", json={"params": {"n": 1}}), 400, "MALFORMED_REQUEST"
    )
    assert_error(await client.post(f"{url}/params", json={"lr": "1"}), 400, "MALFORMED_REQUEST")


async def test_tags_set_and_delete(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}"
    ok(await client.post(f"{url}/tags", json={"tags": {"a": "1", "b/c": "2"}}), 204)
    ok(await client.post(f"{url}/tags", json={"tags": {"a": "3"}}), 204)
    tags = ok(await client.get(url))["tags"]
    assert (tags["a"], tags["b/c"]) == ("3", "2")
    ok(await client.delete(f"{url}/tags/b/c"), 204)
    assert "b/c" not in ok(await client.get(url))["tags"]
    assert_error(await client.delete(f"{url}/tags/b/c"), 404, "RESOURCE_DOES_NOT_EXIST")
