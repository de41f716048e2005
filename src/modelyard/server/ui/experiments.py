"""The experiments page: the list with run counts and last activity; create, rename, delete,
restore."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.server.api._request import store
from modelyard.server.ui._csrf import checked_form
from modelyard.server.ui._flash import redirect
from modelyard.server.ui._render import page, render
from modelyard.server.ui._state import View, choice
from modelyard.store.experiments import LIFECYCLES, check_experiment_id


@access(Access.READ)
@page
async def experiments_page(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    lifecycle = choice(view, "lifecycle", LIFECYCLES, "active")
    summaries = await store(request).overview.experiment_summaries(lifecycle=lifecycle)
    return render(
        request,
        "experiments.html",
        title="Experiments",
        experiments=summaries,
        lifecycle=lifecycle,
        view=view,
    )


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip() if isinstance(value, str) else ""


def _experiment_id(request: Request) -> int:
    return check_experiment_id(request.path_params["experiment_id"])


@access(Access.WRITE)
@page
async def create_experiment(request: Request) -> Response:
    form = await checked_form(request)
    created = await store(request).experiments.create(_field(form, "name"))
    return redirect(f"/ui/experiments/{created.experiment_id}", f"Created {created.name}")


@access(Access.WRITE)
@page
async def rename_experiment(request: Request) -> Response:
    form = await checked_form(request)
    renamed = await store(request).experiments.rename(
        _experiment_id(request), _field(form, "name")
    )
    return redirect(_field(form, "next") or "/", f"Renamed to {renamed.name}")


@access(Access.WRITE)
@page
async def delete_experiment(request: Request) -> Response:
    form = await checked_form(request)
    experiment_id = _experiment_id(request)
    await store(request).experiments.delete(experiment_id)
    return redirect(_field(form, "next") or "/", f"Deleted experiment {experiment_id}")


@access(Access.WRITE)
@page
async def restore_experiment(request: Request) -> Response:
    form = await checked_form(request)
    experiment_id = _experiment_id(request)
    await store(request).experiments.restore(experiment_id)
    return redirect(_field(form, "next") or "/", f"Restored experiment {experiment_id}")


_ONE = "/experiments/{experiment_id}"

routes = [
    Route("/experiments/new", create_experiment, methods=["POST"]),
    Route(_ONE + "/rename", rename_experiment, methods=["POST"]),
    Route(_ONE + "/delete", delete_experiment, methods=["POST"]),
    Route(_ONE + "/restore", restore_experiment, methods=["POST"]),
]
