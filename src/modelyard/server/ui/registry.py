"""Registry pages: models, a model's versions with aliases, stages, tags and source runs; set,
move and remove aliases (the same store calls as the REST API, so the API sees the change)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.server.api._request import store
from modelyard.server.ui._csrf import checked_form
from modelyard.server.ui._flash import redirect
from modelyard.server.ui._render import page, render
from modelyard.server.ui._state import View

MAX_VERSIONS = 200


@access(Access.READ)
@page
async def models_page(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    found = await store(request).registry.list_models(
        name_like=f"%{view.get('q')}%" if view.get("q") else None,
        limit=100,
        page_token=view.get("page") or None,
    )
    return render(request, "models.html", title="Models", models=found, view=view)


@access(Access.READ)
@page
async def model_page(request: Request) -> Response:
    name = request.path_params["name"]
    registry = store(request).registry
    model = await registry.get_model(name)
    versions = await registry.list_versions(name, limit=MAX_VERSIONS)
    return render(
        request,
        "model.html",
        title=f"{model.name} · model",
        model=model,
        versions=versions.items,
        more=versions.next_page_token is not None,
    )


def _model_url(name: str) -> str:
    return "/ui/models/" + quote(name, safe="")


@access(Access.WRITE)
@page
async def set_alias(request: Request) -> Response:
    form = await checked_form(request)
    name = request.path_params["name"]
    alias, version = form.get("alias"), form.get("version")
    await store(request).registry.set_alias(
        name, alias if isinstance(alias, str) else "", version if isinstance(version, str) else ""
    )
    return redirect(_model_url(name), f"Alias {alias} now points at version {version}")


@access(Access.WRITE)
@page
async def delete_alias(request: Request) -> Response:
    form = await checked_form(request)
    name = request.path_params["name"]
    alias = form.get("alias")
    await store(request).registry.delete_alias(name, alias if isinstance(alias, str) else "")
    return redirect(_model_url(name), f"Alias {alias} removed")


routes = [
    Route("/models", models_page),
    Route("/models/{name}", model_page),
    Route("/models/{name}/aliases", set_alias, methods=["POST"]),
    Route("/models/{name}/aliases/delete", delete_alias, methods=["POST"]),
]
