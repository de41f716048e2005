"""Deny by default: every route the app mounts declares a permission and sits behind its guard.

The routes are enumerated from the router itself (through every mount), not from the OpenAPI
document, so a route that another module adds without a declaration fails here.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router

from modelyard.auth.access import Access
from modelyard.server import create_app
from modelyard.server.guard import Guard, guard_router, guard_routes, leaf_routes
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio

APP = create_app(Settings(database_url="unused"), "unused")
LEAVES = list(leaf_routes(APP.router.routes))


def test_the_walk_reaches_routes_inside_mounts() -> None:
    paths = {leaf.path for leaf in LEAVES}
    assert {"/health", "/api/v1/experiments", "/ui/static", "/"} <= paths
    assert len(LEAVES) > 50


@pytest.mark.parametrize(
    "leaf", LEAVES, ids=lambda leaf: f"{sorted(leaf.methods or [])} {leaf.path}"
)
def test_every_route_declares_a_permission_and_is_guarded(leaf: object) -> None:
    from modelyard.server.guard import Leaf

    assert isinstance(leaf, Leaf)
    assert leaf.access is not None, f"{leaf.path} declares no permission: add @access(...)"
    assert isinstance(getattr(leaf.route, "app", None), Guard)


def test_only_health_ready_metrics_openapi_and_assets_are_open() -> None:
    open_paths = {leaf.path for leaf in LEAVES if leaf.access in (Access.PUBLIC, Access.METRICS)}
    assert open_paths == {
        "/health",
        "/ready",
        "/metrics",
        "/api/v1/openapi.json",
        "/ui/static",
        "/ui/vendor",
        "/ui/login",
    }


def test_writes_are_never_declared_as_reads() -> None:
    # A POST that only reads (search) is allowed as READ; any other write must need more.
    reading_posts = {"/api/v1/runs/search", "/api/v1/model-versions/search"} | {
        prefix + path
        for prefix in ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
        for path in (
            "/experiments/search",
            "/runs/search",
            "/logged-models/search",
            "/registered-models/get-latest-versions",
        )
    }
    # Logging in is a write anyone may attempt: it opens a session only for a valid token, and
    # its form carries a CSRF token like every other.
    public_writes = {"/ui/login"}
    for leaf in LEAVES:
        methods = (leaf.methods or set()) - {"GET", "HEAD"}
        if leaf.path in public_writes:
            assert leaf.access is Access.PUBLIC, leaf.path
        elif methods and leaf.path not in reading_posts:
            assert leaf.access not in (Access.PUBLIC, Access.READ, None), leaf.path


async def _ok(request: Request) -> Response:
    return PlainTextResponse("reached")


async def test_a_route_without_a_declaration_refuses_every_request() -> None:
    app = Starlette(routes=[Route("/forgotten", _ok), Mount("/m", routes=[Route("/x", _ok)])])
    app.state.settings = Settings(database_url="unused")
    guard_routes(app.router.routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for path in ("/forgotten", "/m/x"):
            response = await client.get(path, headers={"authorization": "Bearer anything"})
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "PERMISSION_DENIED"
            assert "reached" not in response.text


async def _statuses(app: Starlette, paths: list[str]) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return [(await client.get(path)).status_code for path in paths]


async def test_routes_added_after_the_app_was_built_are_guarded() -> None:
    # The known hole: a plugin or a later module adding routes to a built app.
    app = Starlette(routes=[Mount("/m", routes=[Route("/x", _ok)])])
    app.state.settings = Settings(database_url="unused")
    guard_router(app.router)
    app.add_route("/added", _ok)
    app.router.routes.insert(0, Route("/inserted", _ok))
    app.router.routes.extend([Route("/extended", _ok)])
    app.router.routes += [Route("/concatenated", _ok)]
    app.router.routes[0:0] = [Route("/sliced", _ok)]
    app.mount("/late", Router(routes=[Route("/y", _ok)]))
    late = app.router.routes[-1]
    assert isinstance(late, Mount)
    late.routes.append(Route("/z", _ok))
    (inner,) = (r for r in app.router.routes if isinstance(r, Mount) and r.path == "/m")
    inner.routes.append(Route("/w", _ok))
    paths = ["/added", "/inserted", "/extended", "/concatenated", "/sliced"]
    paths += ["/late/y", "/late/z", "/m/w"]
    assert await _statuses(app, paths) == [403] * len(paths)


async def test_a_route_list_replaced_after_create_app_is_guarded_at_start(
    runtime_url: str, settings: Settings
) -> None:
    app = create_app(settings, runtime_url)
    app.router.routes = [*app.router.routes, Route("/replaced", _ok)]
    async with app.router.lifespan_context(app):
        assert await _statuses(app, ["/replaced"]) == [403]
