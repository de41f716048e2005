"""MLflow's model-version endpoints (``model_registry.proto``) over our registry.

Create (from a source the server serves, see ``_sources``), get, update, delete, search, stage
transitions, the download URI, and tags. A version registered from ``models:/m-...`` records
that logged model (``model_id``) and its source run, whether or not the client named them.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.errors import InvalidInput
from modelyard.server.mlflow import _sources
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store
from modelyard.server.mlflow._registry_entities import model_version

# MLflow's SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT; our store caps a page at the same number.
SEARCH_DEFAULT = 10_000

READ, WRITE = Access.READ, Access.WRITE


class Tag(msgspec.Struct):
    key: str
    value: str = ""


class CreateModelVersion(msgspec.Struct):
    name: str | None = None
    source: str | None = None
    run_id: str | None = None
    tags: list[Tag] = []
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class VersionRef(msgspec.Struct):
    name: str | None = None
    version: str | None = None


class UpdateModelVersion(VersionRef):
    description: str | None = None


class TransitionStage(VersionRef):
    stage: str | None = None
    archive_existing_versions: bool = False


class SearchModelVersions(msgspec.Struct):
    filter: str | None = None
    max_results: int = SEARCH_DEFAULT
    order_by: list[str] = []
    page_token: str | None = None


class SetTag(VersionRef):
    key: str | None = None
    value: str | None = None


class DeleteTag(VersionRef):
    key: str | None = None


async def create(request: Request) -> Response:
    message = await parse(request, CreateModelVersion)
    name = require(message.name, "name")
    source = require(message.source, "source")
    opened = store(request)
    implied = await _sources.check(opened, source, message.run_id or None)
    model_id = message.model_id or None
    if model_id is not None and implied.model_id not in (None, model_id):
        raise InvalidInput(
            f"model_id {model_id} is not the logged model of the source {source!r}",
            field="model_id",
        )
    created = await opened.registry.create_version(
        name,
        source,
        run_id=message.run_id or implied.run_id,
        run_link=message.run_link or None,
        description=message.description or None,
        tags={tag.key: tag.value for tag in message.tags},
        model_id=model_id or implied.model_id,
    )
    return reply({"model_version": model_version(created)})


async def get(request: Request) -> Response:
    message = await parse(request, VersionRef)
    found = await store(request).registry.get_version(
        require(message.name, "name"), require(message.version, "version")
    )
    return reply({"model_version": model_version(found)})


async def update(request: Request) -> Response:
    message = await parse(request, UpdateModelVersion)
    updated = await store(request).registry.update_version(
        require(message.name, "name"),
        require(message.version, "version"),
        description=message.description or None,
    )
    return reply({"model_version": model_version(updated)})


async def delete(request: Request) -> Response:
    message = await parse(request, VersionRef)
    await store(request).registry.delete_version(
        require(message.name, "name"), require(message.version, "version")
    )
    return reply()


async def search(request: Request) -> Response:
    message = await parse(request, SearchModelVersions)
    page = await store(request).model_version_search.search_versions(
        message.filter or None,
        message.order_by or None,
        max_results=message.max_results,
        page_token=message.page_token or None,
    )
    answer: dict[str, object] = {"model_versions": [model_version(v) for v in page.items]}
    if page.next_page_token is not None:
        answer["next_page_token"] = page.next_page_token
    return reply(answer)


async def transition_stage(request: Request) -> Response:
    message = await parse(request, TransitionStage)
    moved = await store(request).registry.transition_stage(
        require(message.name, "name"),
        require(message.version, "version"),
        require(message.stage, "stage"),
        archive_existing=message.archive_existing_versions,
    )
    return reply({"model_version": model_version(moved)})


async def download_uri(request: Request) -> Response:
    message = await parse(request, VersionRef)
    opened = store(request)
    found = await opened.registry.get_version(
        require(message.name, "name"), require(message.version, "version")
    )
    return reply({"artifact_uri": await _sources.download_uri(opened, found.source)})


async def set_tag(request: Request) -> Response:
    message = await parse(request, SetTag)
    await store(request).registry.set_version_tag(
        require(message.name, "name"),
        require(message.version, "version"),
        require(message.key, "key"),
        message.value or "",
    )
    return reply()


async def delete_tag(request: Request) -> Response:
    message = await parse(request, DeleteTag)
    await store(request).registry.delete_version_tag(
        require(message.name, "name"),
        require(message.version, "version"),
        require(message.key, "key"),
    )
    return reply()


_PREFIX = "/model-versions"

routes = [
    endpoint("POST", f"{_PREFIX}/create", create, WRITE),
    endpoint("GET", f"{_PREFIX}/get", get, READ),
    endpoint("PATCH", f"{_PREFIX}/update", update, WRITE),
    endpoint("DELETE", f"{_PREFIX}/delete", delete, WRITE),
    endpoint("GET", f"{_PREFIX}/search", search, READ),
    endpoint("POST", f"{_PREFIX}/transition-stage", transition_stage, WRITE),
    endpoint("GET", f"{_PREFIX}/get-download-uri", download_uri, READ),
    endpoint("POST", f"{_PREFIX}/set-tag", set_tag, WRITE),
    endpoint("DELETE", f"{_PREFIX}/delete-tag", delete_tag, WRITE),
]
