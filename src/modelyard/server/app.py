"""The application factory: one Starlette app from one ``Settings`` and a database DSN."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route

from modelyard.artifacts.store import ArtifactStore, open_backend
from modelyard.auth.credentials import Identities
from modelyard.errors import ModelyardError
from modelyard.server import observability
from modelyard.server.api import (
    admin,
    artifacts,
    datasets,
    experiments,
    lineage,
    logged_models,
    metrics,
    models,
    openapi,
    runs,
    search,
    versions,
    webhooks,
)
from modelyard.server.api._routing import reserve_literal_paths
from modelyard.server.guard import guard_router
from modelyard.server.mlflow import mlflow_routes
from modelyard.server.request_id import RequestIdMiddleware
from modelyard.server.responses import EXCEPTION_HANDLERS
from modelyard.server.ui import ui_routes
from modelyard.settings import Settings
from modelyard.store import Store
from modelyard.store.audit import AuditLog
from modelyard.webhooks.runtime import webhook_runtime

_log = logging.getLogger(__name__)


def api_routes() -> list[BaseRoute]:
    """Routes of ``/api/v1``; each resource module contributes its own list."""
    return reserve_literal_paths(
        [
            *experiments.routes,
            *runs.routes,
            *artifacts.routes,
            *search.routes,
            *metrics.routes,
            *models.routes,
            *versions.routes,
            *datasets.routes,
            *lineage.routes,
            *logged_models.routes,
            *webhooks.routes,
            *admin.routes,
            *openapi.routes,
        ]
    )


async def _audit_partitions(audit: AuditLog) -> None:
    # Made ahead so no write has to make one; a role that may not (a read-only server) still
    # serves, and a writer would make the partition it needs itself.
    try:
        await audit.ensure_partitions()
    except ModelyardError as exc:
        _log.warning("could not make the audit log's partitions ahead: %s", exc.message)


def create_app(settings: Settings, conninfo: str) -> Starlette:
    """A ready-to-serve app over the database at ``conninfo`` (schema per ``settings``)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # Again at start: a route list replaced wholesale after create_app() is guarded too.
        guard_router(app.router)
        store = await Store.open(
            conninfo,
            settings.schema,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            prepared_statements=settings.prepared_statements,
        )
        app.state.store = store
        app.state.identities = Identities(store.pool)
        app.state.audit = AuditLog(store.pool)
        await _audit_partitions(app.state.audit)
        backend = open_backend(settings.artifact_store, store.pool)
        app.state.artifacts = ArtifactStore(
            store.pool, backend, max_bytes=settings.max_artifact_bytes
        )
        app.state.metrics = observability.Metrics(store.pool, settings.metrics_dir)
        try:
            async with webhook_runtime(app, store.pool, settings, conninfo):
                yield
        finally:
            await backend.close()
            await store.close()

    app = Starlette(
        routes=[
            Route("/health", observability.health),
            Route("/ready", observability.ready),
            Route("/metrics", observability.metrics_endpoint),
            Mount("/api/v1", routes=api_routes()),
            *mlflow_routes(),
            *ui_routes(),
        ],
        # The request id is outermost, so even the metrics middleware's own failures carry it.
        middleware=[
            Middleware(RequestIdMiddleware),
            Middleware(observability.MetricsMiddleware),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    # Deny by default: every route, whichever module mounted it or however late it was added,
    # answers only through its guard.
    guard_router(app.router)
    app.state.settings = settings
    app.state.conninfo = conninfo
    # Signs the UI's CSRF tokens; the runner makes one per server start, shared by its workers.
    app.state.ui_secret = settings.ui_secret or secrets.token_bytes(32)
    return app
