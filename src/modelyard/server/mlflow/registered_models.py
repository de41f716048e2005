"""MLflow's registered-model endpoints (``model_registry.proto``) over our registry.

Create, get, rename, update, delete, search, latest versions per stage, tags and aliases. Search
filters and orders go through our filter parser (``tags.`` keys, backticks, LIKE/ILIKE, and our
OR/NOT/IS NULL extensions); MLflow's page size defaults to 100 and caps at 1,000.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store
from modelyard.server.mlflow._registry_entities import model_version, registered_model

READ, WRITE = Access.READ, Access.WRITE


class Tag(msgspec.Struct):
    key: str
    value: str = ""


class CreateRegisteredModel(msgspec.Struct):
    name: str | None = None
    tags: list[Tag] = []
    description: str | None = None


class ModelName(msgspec.Struct):
    name: str | None = None


class RenameRegisteredModel(msgspec.Struct):
    name: str | None = None
    new_name: str | None = None


class UpdateRegisteredModel(msgspec.Struct):
    name: str | None = None
    description: str | None = None


class SearchRegisteredModels(msgspec.Struct):
    filter: str | None = None
    max_results: int = 100
    order_by: list[str] = []
    page_token: str | None = None


class GetLatestVersions(msgspec.Struct):
    name: str | None = None
    stages: list[str] = []


class SetTag(msgspec.Struct):
    name: str | None = None
    key: str | None = None
    value: str | None = None


class DeleteTag(msgspec.Struct):
    name: str | None = None
    key: str | None = None


class SetAlias(msgspec.Struct):
    name: str | None = None
    alias: str | None = None
    version: str | None = None


class AliasRef(msgspec.Struct):
    name: str | None = None
    alias: str | None = None


async def create(request: Request) -> Response:
    message = await parse(request, CreateRegisteredModel)
    created = await store(request).registry.create_model(
        require(message.name, "name"),
        description=message.description or None,
        tags={tag.key: tag.value for tag in message.tags},
    )
    return reply({"registered_model": registered_model(created)})


async def get(request: Request) -> Response:
    message = await parse(request, ModelName)
    found = await store(request).registry.get_model(require(message.name, "name"))
    return reply({"registered_model": registered_model(found)})


async def rename(request: Request) -> Response:
    message = await parse(request, RenameRegisteredModel)
    renamed = await store(request).registry.rename_model(
        require(message.name, "name"), require(message.new_name, "new_name")
    )
    return reply({"registered_model": registered_model(renamed)})


async def update(request: Request) -> Response:
    message = await parse(request, UpdateRegisteredModel)
    updated = await store(request).registry.update_model(
        require(message.name, "name"), description=message.description or None
    )
    return reply({"registered_model": registered_model(updated)})


async def delete(request: Request) -> Response:
    message = await parse(request, ModelName)
    await store(request).registry.delete_model(require(message.name, "name"))
    return reply()


async def search(request: Request) -> Response:
    message = await parse(request, SearchRegisteredModels)
    page = await store(request).registered_model_search.search(
        message.filter or None,
        message.order_by or None,
        max_results=message.max_results,
        page_token=message.page_token or None,
    )
    answer: dict[str, object] = {"registered_models": [registered_model(m) for m in page.items]}
    if page.next_page_token is not None:
        answer["next_page_token"] = page.next_page_token
    return reply(answer)


async def latest_versions(request: Request) -> Response:
    message = await parse(request, GetLatestVersions)
    found = await store(request).registry.latest_versions(
        require(message.name, "name"), message.stages or None
    )
    return reply({"model_versions": [model_version(v) for v in found]})


async def set_tag(request: Request) -> Response:
    message = await parse(request, SetTag)
    await store(request).registry.set_model_tag(
        require(message.name, "name"), require(message.key, "key"), message.value or ""
    )
    return reply()


async def delete_tag(request: Request) -> Response:
    message = await parse(request, DeleteTag)
    await store(request).registry.delete_model_tag(
        require(message.name, "name"), require(message.key, "key")
    )
    return reply()


async def set_alias(request: Request) -> Response:
    message = await parse(request, SetAlias)
    await store(request).registry.set_alias(
        require(message.name, "name"),
        require(message.alias, "alias"),
        require(message.version, "version"),
    )
    return reply()


async def delete_alias(request: Request) -> Response:
    message = await parse(request, AliasRef)
    await store(request).registry.delete_alias(
        require(message.name, "name"), require(message.alias, "alias")
    )
    return reply()


async def get_by_alias(request: Request) -> Response:
    message = await parse(request, AliasRef)
    found = await store(request).registry.get_version_by_alias(
        require(message.name, "name"), require(message.alias, "alias")
    )
    return reply({"model_version": model_version(found)})


_PREFIX = "/registered-models"

routes = [
    endpoint("POST", f"{_PREFIX}/create", create, WRITE),
    endpoint("GET", f"{_PREFIX}/get", get, READ),
    endpoint("POST", f"{_PREFIX}/rename", rename, WRITE),
    endpoint("PATCH", f"{_PREFIX}/update", update, WRITE),
    endpoint("DELETE", f"{_PREFIX}/delete", delete, WRITE),
    endpoint("GET", f"{_PREFIX}/search", search, READ),
    endpoint("POST", f"{_PREFIX}/get-latest-versions", latest_versions, READ),
    endpoint("GET", f"{_PREFIX}/get-latest-versions", latest_versions, READ),
    endpoint("POST", f"{_PREFIX}/set-tag", set_tag, WRITE),
    endpoint("DELETE", f"{_PREFIX}/delete-tag", delete_tag, WRITE),
    endpoint("POST", f"{_PREFIX}/alias", set_alias, WRITE),
    endpoint("DELETE", f"{_PREFIX}/alias", delete_alias, WRITE),
    endpoint("GET", f"{_PREFIX}/alias", get_by_alias, READ),
]
