"""The run page: status and times, params, tags, metrics (latest, min, max) with charts,
parent and children, the model versions made from it; editable description and tags."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.errors import InvalidInput
from modelyard.server.api._request import store
from modelyard.server.ui import charts
from modelyard.server.ui._columns import DESCRIPTION_TAG
from modelyard.server.ui._csrf import checked_form
from modelyard.server.ui._flash import redirect
from modelyard.server.ui._render import page, render
from modelyard.server.ui._state import View
from modelyard.store import validation as v

MAX_CHARTS = 12


def _run_id(request: Request) -> str:
    return v.check_uuid(request.path_params["run_id"]).hex


@access(Access.READ)
@page
async def run_page(request: Request) -> Response:
    run_id = _run_id(request)
    view = View(request.url.path, request.query_params)
    settings = charts.Settings.read(view)
    st = store(request)
    run = await st.runs.get(run_id)
    experiment = await st.experiments.get(run.experiment_id)
    keys = sorted(run.metrics)
    extremes = await st.overview.metric_extremes([run_id], keys)
    chosen = [k for k in view.getlist("metric") if k in run.metrics] or keys[:MAX_CHARTS]
    figures = [await charts.build(st, [(run_id, run.name)], key, settings) for key in chosen]
    parent = await st.runs.get(run.parent_run_id) if run.parent_run_id else None
    children = await st.overview.children(run_id, "all")
    versions = await st.overview.versions_of_run(run_id)
    inputs = (await st.datasets.inputs_of([run_id]))[run_id]
    outputs = (await st.datasets.outputs_of([run_id]))[run_id]
    return render(
        request,
        "run.html",
        title=f"{run.name} · run",
        run=run,
        experiment=experiment,
        extremes=extremes,
        figures=figures,
        metric_keys=keys,
        chosen=chosen,
        settings=settings,
        parent=parent,
        children=children,
        versions=versions,
        inputs=inputs,
        outputs=outputs,
        description=run.tags.get(DESCRIPTION_TAG, ""),
        view=view,
    )


def _text(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value if isinstance(value, str) else ""


@access(Access.WRITE)
@page
async def set_description(request: Request) -> Response:
    form = await checked_form(request)
    run_id = _run_id(request)
    await store(request).runs.set_tags(run_id, {DESCRIPTION_TAG: _text(form, "description")})
    return redirect(f"/ui/runs/{run_id}", "Description saved")


@access(Access.WRITE)
@page
async def set_tag(request: Request) -> Response:
    form = await checked_form(request)
    run_id = _run_id(request)
    key = _text(form, "key").strip()
    if not key:
        raise InvalidInput("a tag key is needed", field="key")
    await store(request).runs.set_tags(run_id, {key: _text(form, "value")})
    return redirect(f"/ui/runs/{run_id}", f"Tag {key} set")


@access(Access.WRITE)
@page
async def delete_tag(request: Request) -> Response:
    form = await checked_form(request)
    run_id = _run_id(request)
    key = _text(form, "key")
    await store(request).runs.delete_tag(run_id, key)
    return redirect(f"/ui/runs/{run_id}", f"Tag {key} deleted")


_ONE = "/runs/{run_id}"

routes = [
    Route(_ONE, run_page),
    Route(_ONE + "/description", set_description, methods=["POST"]),
    Route(_ONE + "/tags", set_tag, methods=["POST"]),
    Route(_ONE + "/tags/delete", delete_tag, methods=["POST"]),
]
