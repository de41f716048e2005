"""``/experiments``: create, read, list, rename, describe, tag, soft-delete and restore."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts.owned import check_artifact_location
from modelyard.auth.access import Access, access
from modelyard.server.api import schemas as s
from modelyard.server.api._idempotency import IDEMPOTENCY_KEY, idempotent
from modelyard.server.api._request import experiment_id, no_content, path_str, store
from modelyard.server.api._routing import PAGE_TOKEN, ApiRoute, Query
from modelyard.server.api.artifacts import artifacts
from modelyard.server.responses import JSON, decode
from modelyard.store.experiments import Experiment
from modelyard.store.pagination import Page

LIFECYCLE = Query(
    "lifecycle",
    "Which experiments to list: active, deleted or all.",
    default="active",
    choices=("active", "deleted", "all"),
)
LIMIT = Query("limit", "Page size.", kind=int, default=100, minimum=1, maximum=1000)


@access(Access.WRITE)
@idempotent("experiments.create")
async def create_experiment(request: Request) -> Response:
    body = await decode(request, s.CreateExperiment)
    # The server owns artifact locations: a client's is refused unless it is inside our store.
    location = check_artifact_location(body.artifact_location, artifacts(request).backend.url)
    created = await store(request).experiments.create(
        body.name,
        description=body.description,
        artifact_location=location,
        tags=body.tags,
    )
    return JSON(created, status_code=201)


@access(Access.READ)
async def list_experiments(request: Request) -> Response:
    page = await store(request).experiments.list(
        lifecycle=LIFECYCLE.parse(request),
        limit=LIMIT.parse(request),
        page_token=PAGE_TOKEN.parse(request),
    )
    return JSON(page)


@access(Access.READ)
async def get_experiment(request: Request) -> Response:
    return JSON(await store(request).experiments.get(experiment_id(request)))


@access(Access.READ)
async def get_experiment_by_name(request: Request) -> Response:
    return JSON(await store(request).experiments.get_by_name(path_str(request, "name")))


@access(Access.WRITE)
async def update_experiment(request: Request) -> Response:
    target = experiment_id(request)
    body = await decode(request, s.UpdateExperiment)
    # One transaction: a rename and a description change apply together or not at all.
    name = body.name if isinstance(body.name, str) else None
    return JSON(
        await store(request).experiments.edit(target, name=name, description=body.description)
    )


@access(Access.WRITE)
async def delete_experiment(request: Request) -> Response:
    await store(request).experiments.delete(experiment_id(request))
    return no_content()


@access(Access.WRITE)
async def restore_experiment(request: Request) -> Response:
    target = experiment_id(request)
    experiments = store(request).experiments
    await experiments.restore(target)
    return JSON(await experiments.get(target))


@access(Access.WRITE)
async def set_experiment_tag(request: Request) -> Response:
    target = experiment_id(request)
    body = await decode(request, s.TagValue)
    await store(request).experiments.set_tag(target, path_str(request, "key"), body.value)
    return no_content()


@access(Access.WRITE)
async def delete_experiment_tag(request: Request) -> Response:
    target = experiment_id(request)
    await store(request).experiments.delete_tag(target, path_str(request, "key"))
    return no_content()


_ONE = "/experiments/{experiment_id}"

routes = [
    ApiRoute(
        "POST",
        "/experiments",
        create_experiment,
        summary="Create an experiment",
        status=201,
        body=s.CreateExperiment,
        response=Experiment,
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        "/experiments",
        list_experiments,
        summary="List experiments in creation order",
        response=Page[Experiment],
        query=(LIFECYCLE, LIMIT, PAGE_TOKEN),
    ),
    ApiRoute(
        "GET",
        "/experiments/by-name/{name:path}",
        get_experiment_by_name,
        summary="Get an experiment by its name",
        response=Experiment,
    ),
    ApiRoute("GET", _ONE, get_experiment, summary="Get an experiment", response=Experiment),
    ApiRoute(
        "PATCH",
        _ONE,
        update_experiment,
        summary="Rename an experiment or change its description",
        body=s.UpdateExperiment,
        response=Experiment,
    ),
    ApiRoute(
        "DELETE",
        _ONE,
        delete_experiment,
        summary="Soft-delete an experiment and its active runs",
        status=204,
    ),
    ApiRoute(
        "POST",
        _ONE + "/restore",
        restore_experiment,
        summary="Restore a deleted experiment and the runs deleted with it",
        response=Experiment,
    ),
    ApiRoute(
        "PUT",
        _ONE + "/tags/{key:path}",
        set_experiment_tag,
        summary="Set an experiment tag",
        status=204,
        body=s.TagValue,
    ),
    ApiRoute(
        "DELETE",
        _ONE + "/tags/{key:path}",
        delete_experiment_tag,
        summary="Delete an experiment tag",
        status=204,
    ),
]
