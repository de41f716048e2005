"""No bad input is a 500: garbage bodies and malformed path parameters on every route.

The routes come from the app itself, so a new route is covered without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from api_support import API, assert_error, create_model, create_version, new_run, ok

from modelyard.server.api._routing import ApiRoute
from modelyard.server.app import api_routes

pytestmark = pytest.mark.anyio

GARBAGE = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"12",
    b"\xff\xfe\x00",
    b'{"unexpected_field": true}',
    b'{"name": {"nested": [1, 2, {"deep": null}]}}',
    b"[" * 5000 + b"]" * 5000,
    b'{"value": "\\ud800"}',
]
ROUTES = [r for r in api_routes() if isinstance(r, ApiRoute)]
WRITES = [r for r in ROUTES if r.spec.method in {"POST", "PUT", "PATCH"}]


async def _fill(client: httpx.AsyncClient) -> dict[str, str]:
    """Path values naming real objects, so a route gets past its lookups to the body."""
    run_id = await new_run(client)
    run = ok(await client.get(f"{API}/runs/{run_id}"))
    await create_model(client, "m")
    await create_version(client, "m")
    ok(await client.put(f"{API}/models/m/aliases/champion", json={"version": 1}))
    return {
        "experiment_id": str(run["experiment_id"]),
        "run_id": run_id,
        "name": "m",
        "version": "1",
        "alias": "champion",
        "key": "k",
        "path": "garbage/file.bin",
        "digest": "d",
        "model_id": "m-" + "0" * 32,
        "webhook_id": "0" * 32,
        "token_id": "0" * 32,
        "delivery_id": "1",
    }


def _path(route: ApiRoute, values: dict[str, str]) -> str:
    return API + re.sub(r"{(\w+)}", lambda m: values[m.group(1)], route.template)


def test_every_write_route_is_covered() -> None:
    assert len(WRITES) >= 15
    assert {r.template for r in WRITES} >= {"/runs/{run_id}/metrics", "/runs/search", "/models"}


@pytest.mark.parametrize("route", WRITES, ids=lambda r: f"{r.spec.method} {r.template}")
async def test_garbage_bodies_are_4xx_with_the_error_shape(
    client: httpx.AsyncClient, route: ApiRoute
) -> None:
    url = _path(route, await _fill(client))
    for body in GARBAGE:
        response = await client.request(route.spec.method, url, content=body)
        if route.spec.body is None:
            # No body expected (restore), or raw bytes (an artifact upload: any bytes are a
            # file): never a 5xx.
            assert response.status_code < 500, (body[:20], response.text)
            continue
        assert 400 <= response.status_code < 500, (body[:20], response.text)
        assert_error(response, response.status_code, response.json()["error"]["code"])


async def test_an_oversized_body_is_413_with_the_limit(client: httpx.AsyncClient) -> None:
    limit = 8 * 1024 * 1024  # the test settings' max_body_bytes
    response = await client.post(f"{API}/experiments", content=b" " * (limit + 1))
    assert assert_error(response, 413, "PAYLOAD_TOO_LARGE")["limit"] == limit


async def test_an_oversized_chunked_body_is_413_without_reading_it_all(
    client: httpx.AsyncClient,
) -> None:
    limit = 8 * 1024 * 1024
    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 4 * limit:
            sent += 1024 * 1024
            yield b" " * (1024 * 1024)

    # No Content-Length: the size is only known while reading.
    response = await client.post(f"{API}/experiments", content=endless())
    assert assert_error(response, 413, "PAYLOAD_TOO_LARGE")["limit"] == limit
    assert sent <= limit + 2 * 1024 * 1024, "the server read far past the limit"


BAD_PATH_VALUES = {
    "experiment_id": "x1",
    "run_id": "not-a-run",
    "version": "v1",
    "model_id": "m-nothex",
}


@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if set(BAD_PATH_VALUES) & set(r.spec.path_params)],
    ids=lambda r: f"{r.spec.method} {r.template}",
)
async def test_malformed_path_parameters_are_400(
    client: httpx.AsyncClient, route: ApiRoute
) -> None:
    values = await _fill(client)
    for name in set(BAD_PATH_VALUES) & set(route.spec.path_params):
        url = _path(route, {**values, name: BAD_PATH_VALUES[name]})
        response = await client.request(route.spec.method, url, content=b"{}")
        details = assert_error(response, 400, "INVALID_PARAMETER_VALUE")
        assert details["field"] == name
