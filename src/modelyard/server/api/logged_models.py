"""``/logged-models``: models logged from runs (MLflow 3's LoggedModel), their status and tags.

The files of a logged model are artifacts of its source run under ``artifact_path``; they are
uploaded through ``/runs/{run_id}/artifacts`` between create and finalize.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access, access
from modelyard.server.api import schemas as s
from modelyard.server.api._request import no_content, path_str, store
from modelyard.server.api._routing import PAGE_TOKEN, ApiRoute, Query
from modelyard.server.responses import JSON, decode
from modelyard.store.logged_model_records import LoggedModel, check_model_id
from modelyard.store.pagination import Page

EXPERIMENT = Query(
    "experiment_id", "The experiment whose models to list.", kind=int, minimum=0, required=True
)
LIMIT = Query("limit", "Page size.", kind=int, default=100, minimum=1, maximum=1000)


def _model_id(request: Request) -> str:
    """The path's model id, checked before the body is read (a bad id is a 400 naming it)."""
    return check_model_id(path_str(request, "model_id"))


@access(Access.WRITE)
async def create_logged_model(request: Request) -> Response:
    body = await decode(request, s.CreateLoggedModel)
    created = await store(request).logged_models.create(
        body.name,
        experiment_id=body.experiment_id,
        source_run_id=body.source_run_id,
        model_type=body.model_type,
        flavor=body.flavor,
        metadata=body.metadata,
        tags=body.tags,
        params=body.params,
        user_id=body.user_id,
    )
    return JSON(created, status_code=201)


@access(Access.READ)
async def list_logged_models(request: Request) -> Response:
    page = await store(request).logged_models.list(
        EXPERIMENT.parse(request), limit=LIMIT.parse(request), page_token=PAGE_TOKEN.parse(request)
    )
    return JSON(page)


@access(Access.READ)
async def get_logged_model(request: Request) -> Response:
    return JSON(await store(request).logged_models.get(_model_id(request)))


@access(Access.WRITE)
async def finalize_logged_model(request: Request) -> Response:
    model_id = _model_id(request)
    body = await decode(request, s.FinalizeLoggedModel)
    done = await store(request).logged_models.finalize(
        model_id, body.status, status_message=body.status_message
    )
    return JSON(done)


@access(Access.WRITE)
async def set_logged_model_tag(request: Request) -> Response:
    model_id = _model_id(request)
    body = await decode(request, s.TagValue)
    await store(request).logged_models.set_tags(model_id, {path_str(request, "key"): body.value})
    return no_content()


@access(Access.WRITE)
async def delete_logged_model_tag(request: Request) -> Response:
    await store(request).logged_models.delete_tag(_model_id(request), path_str(request, "key"))
    return no_content()


_ONE = "/logged-models/{model_id}"

routes = [
    ApiRoute(
        "POST",
        "/logged-models",
        create_logged_model,
        summary="Create a logged model (PENDING until its files are up)",
        status=201,
        body=s.CreateLoggedModel,
        response=LoggedModel,
    ),
    ApiRoute(
        "GET",
        "/logged-models",
        list_logged_models,
        summary="List an experiment's logged models, newest first",
        response=Page[LoggedModel],
        query=(EXPERIMENT, LIMIT, PAGE_TOKEN),
    ),
    ApiRoute("GET", _ONE, get_logged_model, summary="Get a logged model", response=LoggedModel),
    ApiRoute(
        "POST",
        _ONE + "/finalize",
        finalize_logged_model,
        summary="Mark a logged model READY (its MLmodel file must be uploaded) or FAILED",
        body=s.FinalizeLoggedModel,
        response=LoggedModel,
    ),
    ApiRoute(
        "PUT",
        _ONE + "/tags/{key:path}",
        set_logged_model_tag,
        summary="Set a logged model tag",
        status=204,
        body=s.TagValue,
    ),
    ApiRoute(
        "DELETE",
        _ONE + "/tags/{key:path}",
        delete_logged_model_tag,
        summary="Delete a logged model tag",
        status=204,
    ),
]
