"""A failure of the server answers a generic 500 with a request id; undeclared methods a 405."""

from __future__ import annotations

import logging
import re

import httpx
import psycopg
import pytest

from modelyard.server.api._routing import ApiRoute
from modelyard.server.app import api_routes

pytestmark = pytest.mark.anyio

API = "/api/v1"
SECRET = "secret database text 5f3a"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}


def _break_experiment_inserts(database_url: str) -> None:
    """A trigger raising an error no translation knows, as an unforeseen database failure."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET search_path TO ml_model_schema")
        conn.execute(
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{SECRET}'; END $$"
        )
        conn.execute(
            "CREATE TRIGGER boom BEFORE INSERT ON experiment FOR EACH ROW EXECUTE FUNCTION boom()"
        )


async def test_an_unexpected_database_error_is_a_generic_500_logged_with_its_id(
    client: httpx.AsyncClient, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    _break_experiment_inserts(database_url)
    with caplog.at_level(logging.ERROR, logger="modelyard.server.responses"):
        response = await client.post(f"{API}/experiments", json={"name": "e"})
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert response.json() == {
        "error": {
            "code": "INTERNAL_ERROR",
            "message": f"internal server error (request id {request_id})",
            "details": {"request_id": request_id},
        }
    }
    assert SECRET not in response.text
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert SECRET in str(getattr(record, "cause", ""))


async def test_a_sane_request_id_is_kept_and_an_insane_one_replaced(
    client: httpx.AsyncClient,
) -> None:
    kept = await client.get(f"{API}/experiments", headers={"X-Request-ID": "proxy-42.a:b"})
    assert kept.headers["x-request-id"] == "proxy-42.a:b"
    forged = await client.get(f"{API}/experiments", headers={"X-Request-ID": "a\tb" + "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", forged.headers["x-request-id"])
    fresh = await client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])


def _concrete(route: ApiRoute) -> str:
    def value(match: re.Match[str]) -> str:
        return "a/b" if match.group(1) == "path" else "1"

    return API + re.sub(r"{(\w+)}", value, route.template)


def _declared(path: str) -> set[str]:
    """Methods of the routes that take ``path`` (independently of the server): the routes of
    that literal path when there are any (``/runs/search`` is not a run id), else every route
    whose pattern matches it."""
    relative = path[len(API) :]
    routes = [r for r in api_routes() if isinstance(r, ApiRoute)]
    literal = [r for r in routes if r.path == relative]
    found: set[str] = set()
    for route in literal or [r for r in routes if r.path_regex.match(relative)]:
        found |= route.methods or set()
    return found


async def test_every_undeclared_method_is_a_405_with_allow(client: httpx.AsyncClient) -> None:
    paths = sorted({_concrete(r) for r in api_routes() if isinstance(r, ApiRoute)})
    checked = 0
    for path in paths:
        declared = _declared(path)
        for method in sorted(METHODS - declared):
            response = await client.request(method, path)
            assert response.status_code == 405, (method, path, response.text)
            if method != "HEAD":  # a HEAD answer has no body
                assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
            allow = {m.strip() for m in response.headers["allow"].split(",")}
            assert allow == declared, (method, path)
            checked += 1
    print(f"undeclared methods checked: {checked} on {len(paths)} paths")
    assert checked > len(paths)
