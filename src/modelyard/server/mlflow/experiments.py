"""MLflow's experiment endpoints (``service.proto``'s experiment messages) over our store."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts.owned import check_artifact_location
from modelyard.auth.access import Access
from modelyard.errors import InvalidInput
from modelyard.server.mlflow import _entities
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store

READ, WRITE = Access.READ, Access.WRITE

DEFAULT_MAX_RESULTS = 1000
# MLflow's ViewType, by name (protobuf JSON) or by number.
VIEW_TYPES: dict[str | int, str] = {
    "ACTIVE_ONLY": "active",
    "DELETED_ONLY": "deleted",
    "ALL": "all",
    1: "active",
    2: "deleted",
    3: "all",
}


def lifecycle_of(view_type: str | int | None) -> str:
    """Our lifecycle filter for MLflow's ``view_type`` (active only when not given)."""
    if view_type is None or view_type == "":
        return "active"
    if isinstance(view_type, str) and view_type.isdigit():
        view_type = int(view_type)
    try:
        return VIEW_TYPES[view_type]
    except KeyError:
        raise InvalidInput(
            f"view_type must be ACTIVE_ONLY, DELETED_ONLY or ALL, got {view_type!r}",
            field="view_type",
        ) from None


class KeyValue(msgspec.Struct):
    key: str
    value: str = ""


class CreateExperiment(msgspec.Struct):
    name: str | None = None
    artifact_location: str | None = None
    tags: list[KeyValue] = []


class GetExperiment(msgspec.Struct):
    experiment_id: str | None = None


class GetExperimentByName(msgspec.Struct):
    experiment_name: str | None = None


class SearchExperiments(msgspec.Struct):
    max_results: int = DEFAULT_MAX_RESULTS
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = []
    view_type: str | int | None = None


class UpdateExperiment(GetExperiment):
    new_name: str | None = None


class ExperimentTag(GetExperiment):
    key: str | None = None
    value: str | None = None


async def create_experiment(request: Request) -> Response:
    message = await parse(request, CreateExperiment)
    tags = {tag.key: tag.value for tag in message.tags}
    # The description is a column of ours; MLflow keeps it in a tag.
    description = tags.pop(_entities.NOTE_TAG, None)
    # The server owns artifact locations: a client's must lie inside the configured store.
    store_url = request.app.state.artifacts.backend.url
    location = check_artifact_location(message.artifact_location or None, store_url)
    created = await store(request).experiments.create(
        require(message.name, "name"),
        description=description,
        artifact_location=location,
        tags=tags,
    )
    return reply({"experiment_id": str(created.experiment_id)})


async def get_experiment(request: Request) -> Response:
    message = await parse(request, GetExperiment)
    found = await store(request).experiments.get(require(message.experiment_id, "experiment_id"))
    return reply({"experiment": _entities.experiment(found)})


async def get_experiment_by_name(request: Request) -> Response:
    message = await parse(request, GetExperimentByName)
    name = require(message.experiment_name, "experiment_name")
    found = await store(request).experiments.get_by_name(name)
    return reply({"experiment": _entities.experiment(found)})


async def search_experiments(request: Request) -> Response:
    message = await parse(request, SearchExperiments)
    page = await store(request).experiment_search.search(
        message.filter or None,
        message.order_by or None,
        lifecycle=lifecycle_of(message.view_type),
        max_results=message.max_results,
        page_token=message.page_token or None,
    )
    answer: dict[str, object] = {"experiments": [_entities.experiment(e) for e in page.items]}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return reply(answer)


async def update_experiment(request: Request) -> Response:
    message = await parse(request, UpdateExperiment)
    experiment_id = require(message.experiment_id, "experiment_id")
    await store(request).experiments.rename(experiment_id, require(message.new_name, "new_name"))
    return reply()


async def delete_experiment(request: Request) -> Response:
    message = await parse(request, GetExperiment)
    await store(request).experiments.delete(require(message.experiment_id, "experiment_id"))
    return reply()


async def restore_experiment(request: Request) -> Response:
    message = await parse(request, GetExperiment)
    await store(request).experiments.restore(require(message.experiment_id, "experiment_id"))
    return reply()


async def set_experiment_tag(request: Request) -> Response:
    message = await parse(request, ExperimentTag)
    experiment_id = require(message.experiment_id, "experiment_id")
    key = require(message.key, "key")
    value = message.value if message.value is not None else ""
    experiments = store(request).experiments
    if key == _entities.NOTE_TAG:
        await experiments.update(experiment_id, description=value)
    else:
        await experiments.set_tag(experiment_id, key, value)
    return reply()


async def delete_experiment_tag(request: Request) -> Response:
    message = await parse(request, ExperimentTag)
    experiment_id = require(message.experiment_id, "experiment_id")
    key = require(message.key, "key")
    experiments = store(request).experiments
    if key == _entities.NOTE_TAG:
        await experiments.update(experiment_id, description=None)
    else:
        await experiments.delete_tag(experiment_id, key)
    return reply()


routes = [
    endpoint("POST", "/experiments/create", create_experiment, WRITE),
    endpoint("GET", "/experiments/get", get_experiment, READ),
    endpoint("GET", "/experiments/get-by-name", get_experiment_by_name, READ),
    endpoint("POST", "/experiments/search", search_experiments, READ),
    endpoint("GET", "/experiments/search", search_experiments, READ),
    endpoint("POST", "/experiments/update", update_experiment, WRITE),
    endpoint("POST", "/experiments/delete", delete_experiment, WRITE),
    endpoint("POST", "/experiments/restore", restore_experiment, WRITE),
    endpoint("POST", "/experiments/set-experiment-tag", set_experiment_tag, WRITE),
    endpoint("POST", "/experiments/delete-experiment-tag", delete_experiment_tag, WRITE),
]
