"""Helpers of the ``/api/v1`` tests: the error-shape check and resource factories over HTTP."""

from __future__ import annotations

from typing import Any

import httpx

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

API = "/api/v1"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``response`` is the one JSON error shape with ``status`` and ``code``; returns details."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], dict)
    details: dict[str, Any] = error["details"]
    return details


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return None if status == 204 else response.json()


async def create_experiment(client: httpx.AsyncClient, name: str = "exp", **fields: Any) -> Any:
    response = await client.post(f"{API}/experiments", json={"name": name, **fields})
    return ok(response, 201)


async def create_run(client: httpx.AsyncClient, experiment_id: int, **fields: Any) -> Any:
    body = {"experiment_id": experiment_id, **fields}
    return ok(await client.post(f"{API}/runs", json=body), 201)


async def new_run(client: httpx.AsyncClient, experiment: str = "exp") -> str:
    """The id of a new run in a new experiment."""
    exp = await create_experiment(client, experiment)
    run = await create_run(client, exp["experiment_id"])
    run_id: str = run["run_id"]
    return run_id


async def create_model(client: httpx.AsyncClient, name: str = "model", **fields: Any) -> Any:
    return ok(await client.post(f"{API}/models", json={"name": name, **fields}), 201)


async def create_version(
    client: httpx.AsyncClient, model: str = "model", source: str = f"{SRC}/bucket/m", **fields: Any
) -> Any:
    body = {"source": source, **fields}
    return ok(await client.post(f"{API}/models/{model}/versions", json=body), 201)
