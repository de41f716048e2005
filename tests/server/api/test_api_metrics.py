"""``/api/v1/runs/{run_id}/metrics``: batch ingest, idempotent retries, non-finite values, reads."""

from __future__ import annotations

import uuid

import httpx
import pytest
from api_support import API, assert_error, new_run, ok

pytestmark = pytest.mark.anyio

LIMIT = 100_000


def columns(n: int, key: str = "loss", start: int = 0) -> dict[str, list[object]]:
    return {
        "keys": [key] * n,
        "values": [float(i) / 2 for i in range(start, start + n)],
        "steps": list(range(start, start + n)),
        "timestamps": [1_700_000_000_000 + i for i in range(start, start + n)],
    }


async def history(client: httpx.AsyncClient, run_id: str, key: str, **params: object) -> dict:
    return ok(await client.get(f"{API}/runs/{run_id}/metrics/{key}/history", params=params))  # type: ignore[no-any-return]


async def test_log_columns_and_read_history(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    body = columns(10)
    result = ok(await client.post(f"{API}/runs/{run_id}/metrics", json=body))
    assert result == {"accepted": 10}
    got = await history(client, run_id, "loss")
    assert got["key"] == "loss"
    assert got["steps"] == body["steps"]
    assert got["values"] == body["values"]
    assert got["timestamps"] == body["timestamps"]
    assert got["total_points"] == 10
    # Keys may hold slashes; the history route takes the rest of the path up to /history.
    ok(await client.post(f"{API}/runs/{run_id}/metrics", json=columns(3, key="train/loss")))
    assert (await history(client, run_id, "train/loss"))["steps"] == [0, 1, 2]


async def test_log_rows_with_defaults(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    rows = [
        {"key": "acc", "value": 0.5, "step": 1, "timestamp": 1000},
        {"key": "acc", "value": 0.75, "step": 2, "timestamp": 2000},
        {"key": "lr", "value": 1},
    ]
    assert ok(await client.post(f"{API}/runs/{run_id}/metrics", json={"metrics": rows})) == {
        "accepted": 3
    }
    acc = await history(client, run_id, "acc")
    assert (acc["steps"], acc["values"], acc["timestamps"]) == ([1, 2], [0.5, 0.75], [1000, 2000])
    lr = await history(client, run_id, "lr")
    assert lr["steps"] == [0] and lr["values"] == [1.0] and lr["timestamps"][0] > 1_600_000_000_000


async def test_non_finite_values_round_trip_as_strings(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    values = ["NaN", "Infinity", "-Infinity", 1.5]
    body = {"keys": ["x"] * 4, "values": values, "steps": [0, 1, 2, 3], "timestamps": [1] * 4}
    ok(await client.post(f"{API}/runs/{run_id}/metrics", json=body))
    assert (await history(client, run_id, "x"))["values"] == values
    # The latest point (step 3) is finite; log a NaN after it to see strings in the latest views.
    ok(
        await client.post(
            f"{API}/runs/{run_id}/metrics",
            json={"metrics": [{"key": "y", "value": "-Infinity", "step": 9, "timestamp": 2}]},
        )
    )
    latest = ok(await client.get(f"{API}/runs/{run_id}/metrics"))
    assert latest["next_page_token"] is None
    assert {(m["key"], m["value"]) for m in latest["items"]} == {("x", 1.5), ("y", "-Infinity")}
    run = ok(await client.get(f"{API}/runs/{run_id}"))
    assert run["metrics"]["y"]["value"] == "-Infinity"


@pytest.mark.parametrize(
    "body",
    [
        {"keys": ["x"], "values": ["nan"]},  # only the exact spellings are accepted
        {"keys": ["x"], "values": [None]},
        {"keys": ["x", "x"], "values": [1.0]},
        {"keys": ["x"], "values": [1.0], "steps": [1, 2]},
        {"keys": ["x"], "values": [1.0], "steps": [1.5]},
        {"keys": ["x"], "values": [1.0], "steps": [2**63]},
        {"keys": ["x"]},
        {"values": [1.0]},
        {"metrics": [{"key": "x"}]},
        {"metrics": [{"key": "x", "value": 1}], "keys": ["x"], "values": [1.0]},
        {"keys": ["bad key*"], "values": [1.0]},
        {},
    ],
)
async def test_bad_batches_are_400_and_write_nothing(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    run_id = await new_run(client)
    response = await client.post(f"{API}/runs/{run_id}/metrics", json=body)
    assert response.status_code == 400
    assert_error(response, 400, response.json()["error"]["code"])
    assert response.json()["error"]["code"] in {"MALFORMED_REQUEST", "INVALID_PARAMETER_VALUE"}
    assert ok(await client.get(f"{API}/runs/{run_id}/metrics"))["items"] == []


async def test_a_full_batch_is_accepted_and_one_more_point_is_refused(
    client: httpx.AsyncClient,
) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}/metrics"
    details = assert_error(
        await client.post(url, json=columns(LIMIT + 1)), 400, "INVALID_PARAMETER_VALUE"
    )
    assert details["limit"] == LIMIT
    assert ok(await client.get(url))["items"] == []
    assert ok(await client.post(url, json=columns(LIMIT))) == {"accepted": LIMIT}
    got = await history(client, run_id, "loss", max_points=100)
    assert got["total_points"] == LIMIT
    assert len(got["steps"]) <= 100
    assert got["steps"][0] == 0 and got["steps"][-1] == LIMIT - 1


async def test_a_retry_with_the_same_idempotency_key_is_a_no_op(
    client: httpx.AsyncClient,
) -> None:
    run_id = await new_run(client)
    url = f"{API}/runs/{run_id}/metrics"
    first = await client.post(url, json=columns(5), headers={"Idempotency-Key": "flush-1"})
    retry = await client.post(url, json=columns(5), headers={"Idempotency-Key": "flush-1"})
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json() == {"accepted": 5}
    assert (await history(client, run_id, "loss"))["total_points"] == 5
    other = await client.post(url, json=columns(3, start=5), headers={"Idempotency-Key": "flush-2"})
    assert other.json() == {"accepted": 3}
    assert (await history(client, run_id, "loss"))["total_points"] == 8
    too_long = await client.post(url, json=columns(1), headers={"Idempotency-Key": "k" * 129})
    assert_error(too_long, 400, "INVALID_PARAMETER_VALUE")
    assert (await history(client, run_id, "loss"))["total_points"] == 8


async def test_history_step_range_and_downsampling(client: httpx.AsyncClient) -> None:
    run_id = await new_run(client)
    ok(await client.post(f"{API}/runs/{run_id}/metrics", json=columns(1000)))
    ranged = await history(client, run_id, "loss", min_step=10, max_step=19)
    assert ranged["steps"] == list(range(10, 20))
    assert ranged["total_points"] == 10
    sampled = await history(client, run_id, "loss", max_points=10)
    assert sampled["total_points"] == 1000
    assert 2 <= len(sampled["steps"]) <= 10
    assert sampled["steps"] == sorted(sampled["steps"])
    assert (await history(client, run_id, "never-logged"))["steps"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"max_points": "1"}, "max_points"),
        ({"max_points": "many"}, "max_points"),
        ({"min_step": "x"}, "min_step"),
        ({"max_step": str(2**63)}, "max_step"),
    ],
)
async def test_history_refuses_bad_query_params(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    run_id = await new_run(client)
    response = await client.get(f"{API}/runs/{run_id}/metrics/loss/history", params=params)
    assert assert_error(response, 400, "INVALID_PARAMETER_VALUE")["field"] == field


async def test_unknown_and_deleted_runs(client: httpx.AsyncClient) -> None:
    missing = uuid.uuid4().hex
    for response in (
        await client.post(f"{API}/runs/{missing}/metrics", json=columns(1)),
        await client.get(f"{API}/runs/{missing}/metrics"),
        await client.get(f"{API}/runs/{missing}/metrics/loss/history"),
    ):
        assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        await client.post(f"{API}/runs/bad-id/metrics", json=columns(1)),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    run_id = await new_run(client)
    ok(await client.delete(f"{API}/runs/{run_id}"), 204)
    assert_error(
        await client.post(f"{API}/runs/{run_id}/metrics", json=columns(1)), 409, "INVALID_STATE"
    )
