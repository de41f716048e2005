"""Liveness, readiness and Prometheus metrics: ``/health``, ``/ready``, ``/metrics``.

Request counts and latencies are labelled by route template (``/api/v1/runs/{run_id}``), not by
raw path, so the number of series stays bounded. Pool use is read from psycopg_pool's stats at
scrape time.

With several worker processes a scrape reaches one of them, yet must report the requests of all:
each worker then writes its counters to memory-mapped files in a directory the runner shares
(prometheus_client's multiprocess mode), and ``/metrics`` merges those files. Pool gauges stay
per process and carry a ``worker`` label.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.auth.access import Access, access
from modelyard.server.responses import JSON
from modelyard.sql import migrations, query
from modelyard.store._base import Pool, Repository

access_log = logging.getLogger("modelyard.access")


class PoolCollector(Collector):
    """Exposes the connection pool's size, idle connections and waiting requests."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self._pool.get_stats()
        worker = str(os.getpid())
        for name, key, doc in (
            ("modelyard_pool_size", "pool_size", "Connections open in the pool"),
            ("modelyard_pool_available", "pool_available", "Idle connections in the pool"),
            ("modelyard_pool_waiting", "requests_waiting", "Requests waiting for a connection"),
        ):
            family = GaugeMetricFamily(name, doc, labels=["worker"])
            family.add_metric([worker], float(stats.get(key, 0)))
            yield family


class Metrics:
    """The Prometheus registry of one app (no process-global registry: apps stay independent)."""

    def __init__(self, pool: Pool, shared_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        owner: CollectorRegistry | None = self.registry
        if shared_dir is not None:
            # Only ever in a worker process the runner forked for serving: the library picks
            # its value storage from this variable and this module global.
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared_dir)
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
            MultiProcessCollector(self.registry, path=str(shared_dir))  # type: ignore[no-untyped-call]
            owner = None  # values live in the shared files; the collector above reads them
        self.requests = Counter(
            "modelyard_http_requests",
            "HTTP requests handled",
            ["method", "route", "status"],
            registry=owner,
        )
        self.latency = Histogram(
            "modelyard_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=owner,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.registry.register(PoolCollector(pool))


def _route_template(scope: Scope) -> str:
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", []):
        match, child = route.matches(scope)
        if match is Match.FULL:
            path = getattr(route, "path", "")
            for sub in getattr(route, "routes", []) or []:
                sub_match, _ = sub.matches({**scope, **child})
                if sub_match is Match.FULL and isinstance(sub, Route):
                    return str(path) + sub.path
            return str(path)
    return "unmatched"


class MetricsMiddleware:
    """Counts and times every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # Routing rewrites scope (root_path, path_params); match the template on the original.
        original = dict(scope)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            route = _route_template(original)
            if metrics is not None:
                metrics.requests.labels(scope["method"], route, str(status)).inc()
                metrics.latency.labels(scope["method"], route).observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "route": route,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )


@access(Access.PUBLIC)
async def health(request: Request) -> Response:
    """Liveness: the process answers. Never touches the database."""
    return JSON({"status": "ok"})


@access(Access.PUBLIC)
async def ready(request: Request) -> Response:
    """Readiness: the database answers through the pool and has every migration we need.

    A newer schema is ready too (migrations only expand), so during a rolling upgrade the
    previous release's servers stay in the load balancer until they are replaced.
    """
    try:
        async with Repository(request.app.state.store.pool).read(timeout=5) as conn:
            cur = await conn.execute(query("migrate.applied"))
            applied = {int(str(row[0])) for row in await cur.fetchall()}
    except Exception as exc:  # any failure means "not ready", reported, not raised
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return JSON({"status": "unavailable", "reason": reason}, 503)
    pending = [m.version for m in migrations() if m.version not in applied]
    if pending:
        return JSON(
            {
                "status": "schema_outdated",
                "current": max(applied, default=0),
                "pending": pending,
                "reason": "run `modelyard db upgrade`",
            },
            503,
        )
    return JSON({"status": "ready", "schema_version": max(applied)})


@access(Access.METRICS)
async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(generate_latest(metrics.registry), media_type="text/plain; version=0.0.4")
