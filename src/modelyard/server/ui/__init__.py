"""The web UI: server-rendered pages over the same store as the API.

``/`` lists the experiments; every other page lives under ``/ui/``. Templates are Jinja2, the
stylesheet and the small script are ours (``static/``), and htmx is served from the installed
``django-js-lib-htmx`` package: nothing is loaded from elsewhere and nothing is built.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from modelyard.auth.access import Access, protect
from modelyard.server.ui import (
    artifacts,
    charts,
    compare,
    experiments,
    lineage,
    live,
    login,
    registry,
    run_page,
    runs_table,
)


def ui_routes() -> list[BaseRoute]:
    """``/`` and the ``/ui`` mount."""
    pages: list[BaseRoute] = [
        *experiments.routes,
        *runs_table.routes,
        *run_page.routes,
        *charts.routes,
        *compare.routes,
        *registry.routes,
        *live.routes,
        *artifacts.routes,
        *lineage.routes,
        *login.routes,
        # Assets are public: the login page needs them before anyone has a session.
        protect(
            Mount(
                "/static", StaticFiles(packages=[("modelyard.server.ui", "static")]), name="static"
            ),
            Access.PUBLIC,
        ),
        protect(
            Mount("/vendor", StaticFiles(packages=[("js_lib_htmx", "static")]), name="vendor"),
            Access.PUBLIC,
        ),
    ]
    return [Route("/", experiments.experiments_page), Mount("/ui", routes=pages)]
