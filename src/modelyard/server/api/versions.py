"""``/models/{name}/versions``: register, read, list, describe, tag, stage and delete versions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts.owned import check_version_source
from modelyard.auth.access import Access, access
from modelyard.server.api import schemas as s
from modelyard.server.api._idempotency import IDEMPOTENCY_KEY, idempotent
from modelyard.server.api._request import no_content, path_str, store, version
from modelyard.server.api._routing import PAGE_TOKEN, ApiRoute, Query
from modelyard.server.api.artifacts import artifacts
from modelyard.server.responses import JSON, decode
from modelyard.store.pagination import Page
from modelyard.store.registry_records import ModelVersion

STAGE = Query(
    "stage",
    "Only versions in this legacy stage.",
    choices=("None", "Staging", "Production", "Archived"),
)
LIMIT = Query("limit", "Page size.", kind=int, default=100, minimum=1, maximum=1000)


def _name(request: Request) -> str:
    return path_str(request, "name")


@access(Access.WRITE)
@idempotent("versions.create")
async def create_version(request: Request) -> Response:
    name = _name(request)
    body = await decode(request, s.CreateVersion)
    source = check_version_source(body.source, artifacts(request).backend.url)
    created = await store(request).registry.create_version(
        name,
        source,
        run_id=body.run_id,
        run_link=body.run_link,
        description=body.description,
        tags=body.tags,
        user_id=body.user_id,
        model_id=body.model_id,
    )
    return JSON(created, status_code=201)


@access(Access.READ)
async def list_versions(request: Request) -> Response:
    page = await store(request).registry.list_versions(
        _name(request),
        stage=STAGE.parse(request),
        limit=LIMIT.parse(request),
        page_token=PAGE_TOKEN.parse(request),
    )
    return JSON(page)


@access(Access.READ)
async def get_version(request: Request) -> Response:
    return JSON(await store(request).registry.get_version(_name(request), version(request)))


@access(Access.WRITE)
async def update_version(request: Request) -> Response:
    name, number = _name(request), version(request)
    body = await decode(request, s.UpdateVersion)
    updated = await store(request).registry.update_version(
        name, number, description=body.description
    )
    return JSON(updated)


@access(Access.WRITE)
async def delete_version(request: Request) -> Response:
    await store(request).registry.delete_version(_name(request), version(request))
    return no_content()


@access(Access.WRITE)
async def set_version_tag(request: Request) -> Response:
    name, number = _name(request), version(request)
    body = await decode(request, s.TagValue)
    await store(request).registry.set_version_tag(
        name, number, path_str(request, "key"), body.value
    )
    return no_content()


@access(Access.WRITE)
async def delete_version_tag(request: Request) -> Response:
    name, number = _name(request), version(request)
    await store(request).registry.delete_version_tag(name, number, path_str(request, "key"))
    return no_content()


@access(Access.WRITE)
async def transition_stage(request: Request) -> Response:
    name, number = _name(request), version(request)
    body = await decode(request, s.TransitionStage)
    moved = await store(request).registry.transition_stage(
        name, number, body.stage, archive_existing=body.archive_existing
    )
    return JSON(moved)


_ALL = "/models/{name}/versions"
_ONE = _ALL + "/{version}"

routes = [
    ApiRoute(
        "POST",
        _ALL,
        create_version,
        summary="Register the next version of a model (numbered 1, 2, 3... without gaps)",
        status=201,
        body=s.CreateVersion,
        response=ModelVersion,
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        _ALL,
        list_versions,
        summary="List a model's versions, newest first",
        response=Page[ModelVersion],
        query=(STAGE, LIMIT, PAGE_TOKEN),
    ),
    ApiRoute("GET", _ONE, get_version, summary="Get a model version", response=ModelVersion),
    ApiRoute(
        "PATCH",
        _ONE,
        update_version,
        summary="Change a version's description",
        body=s.UpdateVersion,
        response=ModelVersion,
    ),
    ApiRoute(
        "DELETE",
        _ONE,
        delete_version,
        summary="Delete a version (its number is never reused)",
        status=204,
    ),
    ApiRoute(
        "PUT",
        _ONE + "/tags/{key:path}",
        set_version_tag,
        summary="Set a version tag",
        status=204,
        body=s.TagValue,
    ),
    ApiRoute(
        "DELETE",
        _ONE + "/tags/{key:path}",
        delete_version_tag,
        summary="Delete a version tag",
        status=204,
    ),
    ApiRoute(
        "POST",
        _ONE + "/stage",
        transition_stage,
        summary="Move a version to a legacy stage, optionally archiving the others there",
        body=s.TransitionStage,
        response=ModelVersion,
    ),
]
