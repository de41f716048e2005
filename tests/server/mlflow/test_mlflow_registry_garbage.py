"""No bad input is a 500 on the MLflow registry, logged-model and artifact-proxy routes: garbage
bodies and query strings answer 4xx in MLflow's error shape.

The routes come from the modules' own route lists, so a new route is covered without editing this.
"""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import Route

from modelyard.server.mlflow import (
    artifact_proxy,
    logged_models,
    model_versions,
    multipart,
    registered_models,
)

pytestmark = pytest.mark.anyio

V2 = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts"
GARBAGE = [
    b"{",
    b"null",
    b"[]",
    b"12",
    b"\xff\xfe\x00",
    b'{"name": {"nested": [1]}, "version": [], "max_results": "x", "stages": 3}',
    b'{"name": "x\\u0000", "version": "-1", "alias": "v1", "source": "/etc/passwd"}',
    b'{"parts": "x", "upload_id": "../../x", "num_parts": 1e9, "path": ""}',
    b'{"status": "NOPE", "tags": [{"nokey": 1}], "order_by": [{"field_name": 3}]}',
]
# Every query has a bad value for each kind of GET route (lookups, searches, listings).
QUERIES = [
    {"name": "", "version": "abc", "max_results": "x", "path": "etc/passwd"},
    {"name": "missing", "version": "0", "alias": "latest", "max_results": "-5", "path": ".."},
    {"filter": "name LIKE", "order_by": "nonsense DESC", "max_results": "0", "path": "0"},
    {"page_token": "garbage", "path": "../../etc/passwd", "artifact_directory_path": "%2e%2e"},
]
ROUTES: list[tuple[str, Route]] = [
    *((V2, r) for m in (registered_models, model_versions, logged_models) for r in m.routes),
    *((ARTIFACTS, r) for m in (artifact_proxy, multipart) for r in m.routes),
]
PATH_VALUES = {
    "model_id": "m-" + "0" * 32,
    "tag_key": "k",
    "path": "0/" + "0" * 32 + "/artifacts/x",
    "upload_id": "0" * 32,
    "part_number": "1",
}


def _url(prefix: str, route: Route) -> str:
    return prefix + re.sub(r"{(\w+)(:\w+)?}", lambda m: PATH_VALUES[m.group(1)], route.path)


def _method(route: Route) -> str:
    assert route.methods is not None
    return next(iter(route.methods - {"HEAD"}))


def _assert_mlflow_4xx(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body["error_code"], str) and isinstance(body["message"], str), body


async def test_garbage_is_4xx_in_mlflow_shape(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{V2}/registered-models/create", json={"name": "m"})
    assert created.status_code == 200, created.text
    for prefix, route in ROUTES:
        method, url = _method(route), _url(prefix, route)
        if method == "GET":
            for params in QUERIES:
                _assert_mlflow_4xx(await client.get(url, params=params))
        else:
            for body in GARBAGE:
                answer = await client.request(method, url, content=body)
                if answer.status_code == 200:
                    # A raw-bytes route (upload) may take any body; the owner must still exist.
                    pytest.fail(f"{method} {url} accepted {body!r}")
                _assert_mlflow_4xx(answer)
