"""``/runs/{run_id}/metrics``: batched metric ingest, latest values, and one series' history.

Ingest is the hot path (hundreds of thousands of points a second): the body is decoded by
msgspec straight into the column lists the store COPYs from, with no object per point. A body
is first decoded as all-numbers; only when that fails is it decoded again allowing the
``"NaN"``/``"Infinity"``/``"-Infinity"`` strings, so the common case pays nothing for them.
"""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access, access
from modelyard.errors import InvalidInput, MalformedRequest
from modelyard.server.api._idempotency import IDEMPOTENCY_KEY, idempotent
from modelyard.server.api._nonfinite import (
    WireFloat,
    column_from_wire,
    column_to_wire,
    to_wire,
)
from modelyard.server.api._request import path_str, run_id, store
from modelyard.server.api._routing import ApiRoute, Query
from modelyard.server.api.schemas import Body, Key, exactly_one_of
from modelyard.server.responses import JSON, decode_body, read_body
from modelyard.store.metrics import MetricBatch
from modelyard.store.validation import MAX_BATCH_METRICS

Step = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
Timestamp = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]


class MetricRow(Body):
    key: Key
    value: WireFloat
    timestamp: Timestamp | None = None
    step: Step = 0


class LogMetrics(Body):
    """Points column-wise (item ``i`` of each list is one point), or as ``metrics`` rows.

    ``steps`` defaults to 0 and ``timestamps`` to the time of the request, for every point.
    """

    # One form or the other, never both: a field of the other form may be absent or null only
    # (_slow_columns refuses rows beside a non-null keys or values column).
    json_schema_rules = exactly_one_of(
        {
            "required": ["keys", "values"],
            "properties": {
                "keys": {"type": "array"},
                "values": {"type": "array"},
                "metrics": {"type": "null"},
            },
        },
        {
            "required": ["metrics"],
            "properties": {
                "metrics": {"type": "array"},
                "keys": {"type": "null"},
                "values": {"type": "null"},
            },
        },
    )

    keys: list[Key] | None = None
    values: list[WireFloat] | None = None
    steps: list[Step] | None = None
    timestamps: list[Timestamp] | None = None
    metrics: list[MetricRow] | None = None


class _FiniteColumns(Body):
    """The fast decode of the column form: every value a JSON number."""

    keys: list[str]
    values: list[float]
    steps: list[int] | None = None
    timestamps: list[int] | None = None


class LogMetricsResult(msgspec.Struct):
    """``accepted``: the points applied (on a retry with the same key: by the first attempt)."""

    accepted: int


class LatestMetric(msgspec.Struct):
    key: str
    value: WireFloat
    step: int
    timestamp: int


class LatestMetrics(msgspec.Struct):
    """The latest point of every series of a run, all in one page (keys per run are few)."""

    items: list[LatestMetric]
    next_page_token: str | None = None


class MetricHistoryColumns(msgspec.Struct):
    """One series column-wise, ordered by step then timestamp.

    ``total_points`` counts the points in the step range before downsampling.
    """

    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[WireFloat]
    total_points: int


MIN_STEP = Query("min_step", "Lowest step to return.", kind=int)
MAX_STEP = Query("max_step", "Highest step to return.", kind=int)
MAX_POINTS = Query(
    "max_points",
    "Downsample to about this many points (first, last, min and max per bucket).",
    kind=int,
    minimum=2,
    maximum=1_000_000,
)


def _batch(body: bytes) -> MetricBatch:
    try:
        fast = msgspec.json.decode(body, type=_FiniteColumns)
        keys, values, steps, timestamps = fast.keys, fast.values, fast.steps, fast.timestamps
    except (msgspec.ValidationError, msgspec.DecodeError):
        keys, values, steps, timestamps = _slow_columns(decode_body(body, LogMetrics))
    count = len(keys)
    if count > MAX_BATCH_METRICS:
        raise InvalidInput(
            f"too many metric points in one request: {count} > {MAX_BATCH_METRICS}",
            field="metrics",
            limit=MAX_BATCH_METRICS,
        )
    if (
        len(values) != count
        or (steps is not None and len(steps) != count)
        or (timestamps is not None and len(timestamps) != count)
    ):
        raise InvalidInput("keys, values, steps and timestamps must have one item per point")
    if steps is None:
        steps = [0] * count
    if timestamps is None:
        timestamps = [time.time_ns() // 1_000_000] * count
    return MetricBatch(keys=keys, values=values, steps=steps, timestamps=timestamps)


def _slow_columns(
    body: LogMetrics,
) -> tuple[list[str], list[float], list[int] | None, list[int] | None]:
    """Columns of a body with non-finite strings or in the row form."""
    if body.metrics is not None:
        if body.keys is not None or body.values is not None:
            raise MalformedRequest("send either the column form or 'metrics' rows, not both")
        rows = body.metrics
        now = time.time_ns() // 1_000_000
        return (
            [row.key for row in rows],
            column_from_wire([row.value for row in rows]),
            [row.step for row in rows],
            [now if row.timestamp is None else row.timestamp for row in rows],
        )
    if body.keys is None or body.values is None:
        raise MalformedRequest("the body needs 'keys' and 'values' columns, or 'metrics' rows")
    return body.keys, column_from_wire(body.values), body.steps, body.timestamps


@access(Access.WRITE)
@idempotent("metrics.log")
async def log_metrics(request: Request) -> Response:
    # The Idempotency-Key is the decorator's: its receipt, per workspace and caller, commits
    # with the points (the store's own per-run receipts serve callers of the store).
    target = run_id(request)
    batch = _batch(await read_body(request))
    accepted = await store(request).metrics.log(target, batch)
    return JSON(LogMetricsResult(accepted=accepted))


@access(Access.READ)
async def latest_metrics(request: Request) -> Response:
    latest = await store(request).metrics.latest(run_id(request))
    items = [
        LatestMetric(key=key, value=to_wire(p.value), step=p.step, timestamp=p.timestamp)
        for key, p in sorted(latest.items())
    ]
    return JSON(LatestMetrics(items=items))


@access(Access.READ)
async def metric_history(request: Request) -> Response:
    history = await store(request).metrics.history(
        run_id(request),
        path_str(request, "key"),
        min_step=MIN_STEP.parse(request),
        max_step=MAX_STEP.parse(request),
        max_points=MAX_POINTS.parse(request),
    )
    return JSON(
        MetricHistoryColumns(
            key=history.key,
            steps=history.steps,
            timestamps=history.timestamps,
            values=column_to_wire(history.values),
            total_points=history.total_points,
        )
    )


_ALL = "/runs/{run_id}/metrics"

routes = [
    ApiRoute(
        "POST",
        _ALL,
        log_metrics,
        summary=f"Log a batch of up to {MAX_BATCH_METRICS:,} metric points",
        body=LogMetrics,
        response=LogMetricsResult,
        headers=(IDEMPOTENCY_KEY,),
    ),
    ApiRoute(
        "GET",
        _ALL,
        latest_metrics,
        summary="The latest point of every metric of a run",
        response=LatestMetrics,
    ),
    ApiRoute(
        "GET",
        _ALL + "/{key:path}/history",
        metric_history,
        summary="One metric's points in a step range, column-wise, optionally downsampled",
        response=MetricHistoryColumns,
        query=(MIN_STEP, MAX_STEP, MAX_POINTS),
    ),
]
