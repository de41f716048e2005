"""``/datasets`` and ``/runs/{run_id}/inputs|outputs``: dataset versions and what runs did.

A dataset is addressed by name and a version by its digest in the path; names or digests holding
``/`` cannot be addressed this way (see docs/api.md), though they can be logged.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from modelyard import limits
from modelyard.auth.access import Access, access
from modelyard.server.api import schemas as s
from modelyard.server.api._request import path_str, run_id, store
from modelyard.server.api._routing import PAGE_TOKEN, ApiRoute, Query
from modelyard.server.responses import JSON, decode
from modelyard.store.dataset_records import (
    MAX_DATASET_NAME_LENGTH,
    MAX_DIGEST_LENGTH,
    Dataset,
    DatasetSpec,
    DatasetVersion,
    RunInputs,
    RunOutputs,
)
from modelyard.store.pagination import Page

NAME_LIKE = Query(
    "name_like",
    "SQL LIKE pattern on the name (% and _ are wildcards).",
    rule={"pattern": limits.TEXT_PATTERN},
)
LIMIT = Query("limit", "Page size.", kind=int, default=100, minimum=1, maximum=1000)


def _name(request: Request) -> str:
    return path_str(request, "name")


@access(Access.WRITE)
async def log_dataset_version(request: Request) -> Response:
    spec = await decode(request, DatasetSpec)
    return JSON(await store(request).datasets.log_version(spec))


@access(Access.READ)
async def list_datasets(request: Request) -> Response:
    page = await store(request).datasets.list(
        name_like=NAME_LIKE.parse(request),
        limit=LIMIT.parse(request),
        page_token=PAGE_TOKEN.parse(request),
    )
    return JSON(page)


@access(Access.READ)
async def get_dataset(request: Request) -> Response:
    return JSON(await store(request).datasets.get(_name(request)))


@access(Access.READ)
async def list_dataset_versions(request: Request) -> Response:
    page = await store(request).datasets.list_versions(
        _name(request), limit=LIMIT.parse(request), page_token=PAGE_TOKEN.parse(request)
    )
    return JSON(page)


@access(Access.READ)
async def get_dataset_version(request: Request) -> Response:
    version = await store(request).datasets.get_version(_name(request), path_str(request, "digest"))
    return JSON(version)


@access(Access.WRITE)
async def log_run_inputs(request: Request) -> Response:
    target = run_id(request)
    body = await decode(request, s.LogInputs)
    logged = await store(request).datasets.log_inputs(target, body.datasets, models=body.models)
    return JSON(RunInputs(datasets=logged, models=body.models))


@access(Access.READ)
async def get_run_inputs(request: Request) -> Response:
    target = run_id(request)
    opened = store(request)
    await opened.runs.get(target)  # a missing run is a 404, not an empty list
    found = await opened.datasets.inputs_of([target])
    models = await opened.logged_models.inputs_of([target])
    return JSON(RunInputs(datasets=found[target], models=models[target]))


@access(Access.WRITE)
async def log_run_outputs(request: Request) -> Response:
    target = run_id(request)
    body = await decode(request, s.LogOutputs)
    logged = await store(request).datasets.log_outputs(target, body.datasets, models=body.models)
    return JSON(RunOutputs(datasets=logged, models=body.models))


@access(Access.READ)
async def get_run_outputs(request: Request) -> Response:
    target = run_id(request)
    opened = store(request)
    await opened.runs.get(target)
    found = await opened.datasets.outputs_of([target])
    models = await opened.logged_models.outputs_of([target])
    return JSON(RunOutputs(datasets=found[target], models=models[target]))


_ONE = "/datasets/{name}"
# A dataset's name and digest follow their own rules (modelyard.store.dataset_records).
_PATH_SCHEMAS = {
    "name": limits.string_schema(limits.NAME_PATTERN, MAX_DATASET_NAME_LENGTH),
    "digest": limits.string_schema(limits.DIGEST_PATTERN, MAX_DIGEST_LENGTH),
}
_DatasetRoute = functools.partial(ApiRoute, path_schemas=_PATH_SCHEMAS)

routes = [
    _DatasetRoute(
        "POST",
        "/datasets",
        log_dataset_version,
        summary="Log a dataset version; a known name and digest return the stored version",
        body=DatasetSpec,
        response=DatasetVersion,
    ),
    _DatasetRoute(
        "GET",
        "/datasets",
        list_datasets,
        summary="List datasets in name order",
        response=Page[Dataset],
        query=(NAME_LIKE, LIMIT, PAGE_TOKEN),
    ),
    _DatasetRoute("GET", _ONE, get_dataset, summary="Get a dataset", response=Dataset),
    _DatasetRoute(
        "GET",
        _ONE + "/versions",
        list_dataset_versions,
        summary="List a dataset's versions, newest first",
        response=Page[DatasetVersion],
        query=(LIMIT, PAGE_TOKEN),
    ),
    _DatasetRoute(
        "GET",
        _ONE + "/versions/{digest}",
        get_dataset_version,
        summary="Get a dataset version by its digest",
        response=DatasetVersion,
    ),
    _DatasetRoute(
        "POST",
        "/runs/{run_id}/inputs",
        log_run_inputs,
        summary="Record dataset versions (each in a context) and logged models a run read",
        body=s.LogInputs,
        response=RunInputs,
    ),
    _DatasetRoute(
        "GET",
        "/runs/{run_id}/inputs",
        get_run_inputs,
        summary="The dataset versions and logged models a run read",
        response=RunInputs,
    ),
    _DatasetRoute(
        "POST",
        "/runs/{run_id}/outputs",
        log_run_outputs,
        summary="Record dataset versions and logged models (MLflow 3 run outputs) a run wrote",
        body=s.LogOutputs,
        response=RunOutputs,
    ),
    _DatasetRoute(
        "GET",
        "/runs/{run_id}/outputs",
        get_run_outputs,
        summary="The dataset versions and logged models a run wrote",
        response=RunOutputs,
    ),
]
