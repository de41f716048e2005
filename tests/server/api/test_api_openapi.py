"""``/api/v1/openapi.json`` lists every mounted route, and the document holds together."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from api_support import API, ok
from starlette.routing import Mount, Route

from modelyard.server import create_app
from modelyard.server.api._routing import ApiRoute
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio


def _mounted_routes() -> list[Route]:
    app = create_app(Settings(database_url="unused"), "unused")
    (mount,) = [r for r in app.routes if isinstance(r, Mount) and r.path == API]
    return [r for r in mount.routes if isinstance(r, Route)]


def test_every_api_route_is_an_api_route_with_one_method() -> None:
    for route in _mounted_routes():
        assert isinstance(route, ApiRoute), f"{route.path} is not declared with ApiRoute"
        assert route.methods is not None and route.spec.method in route.methods


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


async def test_the_document_lists_every_route(client: httpx.AsyncClient) -> None:
    doc = ok(await client.get(f"{API}/openapi.json"))
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    routes = _mounted_routes()
    listed = {(path, method) for path, item in doc["paths"].items() for method in item}
    expected = {
        (API + r.template, r.spec.method.lower()) for r in routes if isinstance(r, ApiRoute)
    }
    assert listed == expected
    assert len(expected) == len(routes)


async def test_operations_are_complete(client: httpx.AsyncClient) -> None:
    doc = ok(await client.get(f"{API}/openapi.json"))
    schemas = doc["components"]["schemas"]
    assert {"ErrorResponse", "Experiment", "Run", "ModelVersion", "LogMetrics"} <= set(schemas)
    operation_ids = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            assert op["summary"]
            in_path = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert in_path == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}
            # 206 is the partial answer of a Range request, beside the one success code.
            success = [c for c in op["responses"] if c.startswith("2") and c != "206"]
            assert len(success) == 1
            for code in ("400", "404", "500"):
                error_schema = op["responses"][code]["content"]["application/json"]["schema"]
                assert error_schema == {"$ref": "#/components/schemas/ErrorResponse"}
            if method in {"post", "put", "patch"} and "requestBody" in op:
                # JSON, or raw bytes for the streamed artifact upload.
                ((media, body),) = op["requestBody"]["content"].items()
                assert media in ("application/json", "application/octet-stream")
                assert body["schema"]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.rsplit("/", 1)[1] in schemas, f"dangling {ref}"


async def test_query_parameters_and_headers_are_documented(client: httpx.AsyncClient) -> None:
    doc = ok(await client.get(f"{API}/openapi.json"))
    listing = doc["paths"][f"{API}/experiments"]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 100,
    }
    assert params["lifecycle"]["schema"]["enum"] == ["active", "deleted", "all"]
    creating = ["/runs/{run_id}/metrics", "/runs", "/models/{name}/versions"]
    creating += ["/experiments", "/models"]
    for path in creating:
        post = doc["paths"][f"{API}{path}"]["post"]
        headers = {p["name"]: p for p in post["parameters"] if p["in"] == "header"}
        assert headers["Idempotency-Key"]["schema"]["maxLength"] == 128, path
        assert "409" in post["responses"], path
    version = doc["paths"][f"{API}/models/{{name}}/versions/{{version}}"]["get"]
    (number,) = [p for p in version["parameters"] if p["name"] == "version"]
    assert number["schema"]["type"] == "integer"
