"""``/runs``: create, read, update, soft-delete and restore runs; log params and set tags."""

from __future__ import annotations

from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access, access
from modelyard.server.api import schemas as s
from modelyard.server.api._idempotency import IDEMPOTENCY_KEY, idempotent
from modelyard.server.api._nonfinite import run_to_wire
from modelyard.server.api._request import no_content, path_str, run_id, store
from modelyard.server.api._routing import ApiRoute
from modelyard.server.responses import JSON, decode
from modelyard.store.run_data import Run


@access(Access.WRITE)
@idempotent("runs.create")
async def create_run(request: Request) -> Response:
    body = await decode(request, s.CreateRun)
    created = await store(request).runs.create(
        body.experiment_id,
        name=body.name,
        start_time=body.start_time,
        tags=body.tags,
        parent_run_id=body.parent_run_id,
        user_id=body.user_id,
    )
    return JSON(run_to_wire(created), status_code=201)


@access(Access.READ)
async def get_run(request: Request) -> Response:
    return JSON(run_to_wire(await store(request).runs.get(run_id(request))))


@access(Access.WRITE)
async def update_run(request: Request) -> Response:
    target = run_id(request)
    body = await decode(request, s.UpdateRun)
    updated = await store(request).runs.update(
        target,
        status=None if body.status is UNSET else body.status,
        end_time=None if body.end_time is UNSET else body.end_time,
        name=None if body.name is UNSET else body.name,
    )
    return JSON(run_to_wire(updated))


@access(Access.WRITE)
async def delete_run(request: Request) -> Response:
    await store(request).runs.delete(run_id(request))
    return no_content()


@access(Access.WRITE)
async def restore_run(request: Request) -> Response:
    target = run_id(request)
    runs = store(request).runs
    await runs.restore(target)
    return JSON(run_to_wire(await runs.get(target)))


@access(Access.WRITE)
async def log_params(request: Request) -> Response:
    target = run_id(request)
    body = await decode(request, s.LogParams)
    await store(request).runs.log_params(target, body.params)
    return no_content()


@access(Access.WRITE)
async def set_run_tags(request: Request) -> Response:
    target = run_id(request)
    body = await decode(request, s.SetTags)
    await store(request).runs.set_tags(target, body.tags)
    return no_content()


@access(Access.WRITE)
async def delete_run_tag(request: Request) -> Response:
    target = run_id(request)
    await store(request).runs.delete_tag(target, path_str(request, "key"))
    return no_content()


_ONE = "/runs/{run_id}"

routes = [
    ApiRoute(
        "POST",
        "/runs",
        create_run,
        summary="Create a run (RUNNING) in an active experiment",
        status=201,
        body=s.CreateRun,
        response=Run,
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        _ONE,
        get_run,
        summary="Get a run with its params, tags and latest metrics",
        response=Run,
    ),
    ApiRoute(
        "PATCH",
        _ONE,
        update_run,
        summary="Change a run's status, end time or name",
        body=s.UpdateRun,
        response=Run,
    ),
    ApiRoute("DELETE", _ONE, delete_run, summary="Soft-delete a run", status=204),
    ApiRoute(
        "POST",
        _ONE + "/restore",
        restore_run,
        summary="Restore a deleted run",
        response=Run,
    ),
    ApiRoute(
        "POST",
        _ONE + "/params",
        log_params,
        summary="Log params (immutable: another value for a logged key is a 409)",
        status=204,
        body=s.LogParams,
    ),
    ApiRoute(
        "POST",
        _ONE + "/tags",
        set_run_tags,
        summary="Set run tags (overwriting)",
        status=204,
        body=s.SetTags,
    ),
    ApiRoute(
        "DELETE",
        _ONE + "/tags/{key:path}",
        delete_run_tag,
        summary="Delete a run tag",
        status=204,
    ),
]
