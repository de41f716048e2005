"""The live page: running runs with their latest metrics and a chart each, refreshed in place.

htmx re-fetches the ``#live`` fragment every ``every`` seconds (bounded to 2-60 s); the fragment
is at most ``MAX_RUNS`` runs with one small chart each, so one open page costs the server a
bounded amount per interval however many runs are running.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.server.api._request import store
from modelyard.server.ui import charts
from modelyard.server.ui._render import page, render
from modelyard.server.ui._state import View, number
from modelyard.store.experiments import check_experiment_id

MAX_RUNS = 20
LIVE_BUCKETS = 400  # small charts: 200 px of plot at two buckets a pixel


@access(Access.READ)
@page
async def live_page(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    raw = view.get("experiment")
    experiment_id = check_experiment_id(raw) if raw else None
    every = int(number(view, "every", 5, 2, 60) or 5)
    st = store(request)
    runs = await st.overview.running_runs(experiment_id, MAX_RUNS)
    settings = charts.Settings()
    figures = {}
    for run in runs:
        if run.metrics:
            wanted = view.get("metric")
            key = wanted if wanted in run.metrics else sorted(run.metrics)[0]
            figures[run.run_id] = await charts.build(
                st, [(run.run_id, run.name)], key, settings, buckets=LIVE_BUCKETS
            )
    template = "live_rows.html" if request.headers.get("hx-request") else "live.html"
    return render(
        request,
        template,
        title="Live",
        runs=runs,
        figures=figures,
        every=every,
        view=view,
        experiment_id=experiment_id,
    )


routes = [Route("/live", live_page)]
