"""MLflow's REST API on our store, so ``MLFLOW_TRACKING_URI=http://host:port`` just works.

The endpoints live in one module per resource (``experiments``...), each with a ``routes`` list of
paths relative to the API prefix. :func:`mlflow_routes` mounts the version-2 endpoints under both
``/api/2.0/mlflow`` (the client's) and ``/ajax-api/2.0/mlflow`` (the web UI's twin), and the
version-3 ones under ``/api/3.0/mlflow`` and ``/ajax-api/3.0/mlflow``. Every mount answers errors
in MLflow's shape (``_errors``), including the paths it has no endpoint for: what MLflow serves and
we do not (tracing, prompts, GenAI evaluation, the AI gateway, graphql) gets MLflow's own
``ENDPOINT_NOT_FOUND`` 404.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from modelyard.auth.access import Access, protect
from modelyard.server.mlflow import (
    artifact_listing,
    artifact_proxy,
    experiments,
    logged_models,
    metrics,
    model_versions,
    multipart,
    registered_models,
    run_io,
    run_search,
    runs,
    server_info,
    webhooks,
    workspaces,
)
from modelyard.server.mlflow._errors import EXCEPTION_HANDLERS, endpoint_not_found

V2_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
V3_PREFIXES = ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow")
# MLflow's artifact proxy (artifact_proxy, multipart), where mlflow-artifacts:/ URIs resolve.
ARTIFACT_PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
# MLflow endpoints outside the mounts above that we do not serve (out of scope).
OUT_OF_SCOPE_PREFIXES = ("/graphql", "/ajax-api/graphql", "/api/2.0/gateway", "/gateway")


def v2_routes() -> list[BaseRoute]:
    return [
        *experiments.routes,
        *runs.routes,
        *run_search.routes,
        *run_io.routes,
        *metrics.routes,
        *artifact_listing.routes,
        *registered_models.routes,
        *model_versions.routes,
        *logged_models.routes,
        *webhooks.routes,
    ]


def v3_routes() -> list[BaseRoute]:
    return [*server_info.v3_routes, *workspaces.routes]


def artifact_routes() -> list[BaseRoute]:
    return [*artifact_proxy.routes, *multipart.routes]


async def _not_found(request: Request) -> Response:
    return endpoint_not_found(request)


# Behind authentication like every endpoint of the API: the answer is the same 404 for all.
def _catch_all(path: str) -> Route:
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return protect(Route(path, _not_found, methods=methods), Access.AUTHENTICATED)


def _mount(prefix: str, routes: Sequence[BaseRoute]) -> Mount:
    # The catch-all comes last: any path or method no endpoint takes is MLflow's 404.
    return Mount(
        prefix,
        routes=[*routes, _catch_all("/{rest:path}")],
        middleware=[Middleware(ExceptionMiddleware, handlers=EXCEPTION_HANDLERS)],
    )


def _out_of_scope(prefix: str) -> list[BaseRoute]:
    return [_catch_all(prefix), _catch_all(prefix + "/{rest:path}")]


def mlflow_routes() -> list[BaseRoute]:
    """Every route of the MLflow API, to add to the app's routes."""
    v2, v3 = v2_routes(), v3_routes()
    return [
        *(_mount(prefix, v2) for prefix in V2_PREFIXES),
        *(_mount(prefix, v3) for prefix in V3_PREFIXES),
        *(_mount(prefix, artifact_routes()) for prefix in ARTIFACT_PREFIXES),
        *server_info.root_routes,
        *(route for prefix in OUT_OF_SCOPE_PREFIXES for route in _out_of_scope(prefix)),
    ]
