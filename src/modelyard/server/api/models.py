"""``/models``: registered models, their tags and aliases.

A model is addressed by name in the path. Names holding ``/`` cannot be addressed this way (the
path is split before routing); see docs/api.md.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard import limits
from modelyard.auth.access import Access, access
from modelyard.server.api import schemas as s
from modelyard.server.api._idempotency import IDEMPOTENCY_KEY, idempotent
from modelyard.server.api._request import no_content, path_str, store
from modelyard.server.api._routing import PAGE_TOKEN, ApiRoute, Query
from modelyard.server.responses import JSON, decode
from modelyard.store.pagination import Page
from modelyard.store.registry_records import ModelVersion, RegisteredModel

NAME_LIKE = Query(
    "name_like",
    "SQL LIKE pattern on the name (% and _ are wildcards).",
    rule={"pattern": limits.TEXT_PATTERN},
)
LIMIT = Query("limit", "Page size.", kind=int, default=100, minimum=1, maximum=1000)


def _name(request: Request) -> str:
    return path_str(request, "name")


@access(Access.WRITE)
@idempotent("models.create")
async def create_model(request: Request) -> Response:
    body = await decode(request, s.CreateModel)
    created = await store(request).registry.create_model(
        body.name, description=body.description, tags=body.tags
    )
    return JSON(created, status_code=201)


@access(Access.READ)
async def list_models(request: Request) -> Response:
    page = await store(request).registry.list_models(
        name_like=NAME_LIKE.parse(request),
        limit=LIMIT.parse(request),
        page_token=PAGE_TOKEN.parse(request),
    )
    return JSON(page)


@access(Access.READ)
async def get_model(request: Request) -> Response:
    return JSON(await store(request).registry.get_model(_name(request)))


@access(Access.WRITE)
async def update_model(request: Request) -> Response:
    name = _name(request)
    body = await decode(request, s.UpdateModel)
    # One transaction: a rename and a description change apply together or not at all.
    new_name = body.name if isinstance(body.name, str) else None
    return JSON(
        await store(request).registry.edit_model(
            name, new_name=new_name, description=body.description
        )
    )


@access(Access.WRITE)
async def delete_model(request: Request) -> Response:
    await store(request).registry.delete_model(_name(request))
    return no_content()


@access(Access.WRITE)
async def set_model_tag(request: Request) -> Response:
    name = _name(request)
    body = await decode(request, s.TagValue)
    await store(request).registry.set_model_tag(name, path_str(request, "key"), body.value)
    return no_content()


@access(Access.WRITE)
async def delete_model_tag(request: Request) -> Response:
    await store(request).registry.delete_model_tag(_name(request), path_str(request, "key"))
    return no_content()


@access(Access.WRITE)
async def set_alias(request: Request) -> Response:
    name, alias = _name(request), path_str(request, "alias")
    body = await decode(request, s.SetAlias)
    registry = store(request).registry
    await registry.set_alias(name, alias, body.version)
    return JSON(await registry.get_version_by_alias(name, alias))


@access(Access.READ)
async def get_alias(request: Request) -> Response:
    found = await store(request).registry.get_version_by_alias(
        _name(request), path_str(request, "alias")
    )
    return JSON(found)


@access(Access.WRITE)
async def delete_alias(request: Request) -> Response:
    await store(request).registry.delete_alias(_name(request), path_str(request, "alias"))
    return no_content()


_ONE = "/models/{name}"
_ALIAS = _ONE + "/aliases/{alias}"

routes = [
    ApiRoute(
        "POST",
        "/models",
        create_model,
        summary="Register a model (no versions yet)",
        status=201,
        body=s.CreateModel,
        response=RegisteredModel,
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        "/models",
        list_models,
        summary="List registered models in name order",
        response=Page[RegisteredModel],
        query=(NAME_LIKE, LIMIT, PAGE_TOKEN),
    ),
    ApiRoute(
        "GET",
        _ONE,
        get_model,
        summary="Get a model with its tags, aliases and latest version per stage",
        response=RegisteredModel,
    ),
    ApiRoute(
        "PATCH",
        _ONE,
        update_model,
        summary="Rename a model or change its description",
        body=s.UpdateModel,
        response=RegisteredModel,
    ),
    ApiRoute(
        "DELETE",
        _ONE,
        delete_model,
        summary="Delete a model with its versions, tags and aliases",
        status=204,
    ),
    ApiRoute(
        "PUT",
        _ONE + "/tags/{key:path}",
        set_model_tag,
        summary="Set a model tag",
        status=204,
        body=s.TagValue,
    ),
    ApiRoute(
        "DELETE",
        _ONE + "/tags/{key:path}",
        delete_model_tag,
        summary="Delete a model tag",
        status=204,
    ),
    ApiRoute(
        "PUT",
        _ALIAS,
        set_alias,
        summary="Point an alias at a version (create or move)",
        body=s.SetAlias,
        response=ModelVersion,
    ),
    ApiRoute(
        "GET",
        _ALIAS,
        get_alias,
        summary="The version an alias points at",
        response=ModelVersion,
    ),
    ApiRoute("DELETE", _ALIAS, delete_alias, summary="Delete an alias", status=204),
]
