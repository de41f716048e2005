"""MLflow's metric reads: ``metrics/get-history`` (paged) and ``get-history-bulk-interval``
(each run sampled on its own points, as MLflow 3's server samples).

A history page token holds the last step returned and how many points of that step were in it,
so the next page reads from that step on (our chunks skip whole ranges below it) instead of
re-reading the whole series to skip an offset.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require, store, wire_float
from modelyard.store.metrics import MetricHistory

# The bulk-interval endpoint's limits (MLflow's): at most 100 runs and 2,500 steps (the default).
MAX_BULK_RUNS = 100
MAX_BULK_RESULTS = 2500
MAX_HISTORY_RESULTS = 1_000_000


class GetMetricHistory(msgspec.Struct):
    run_id: str | None = None
    run_uuid: str | None = None
    metric_key: str | None = None
    page_token: str | None = None
    max_results: int | None = None


class GetHistoryBulkInterval(msgspec.Struct):
    run_ids: list[str] = []
    metric_key: str | None = None
    start_step: int | None = None
    end_step: int | None = None
    max_results: int | None = None


def _points(history: MetricHistory, start: int, stop: int) -> list[dict[str, Any]]:
    return [
        {
            "key": history.key,
            "value": wire_float(history.values[i]),
            "timestamp": history.timestamps[i],
            "step": history.steps[i],
        }
        for i in range(start, stop)
    ]


async def get_metric_history(request: Request) -> Response:
    message = await parse(request, GetMetricHistory)
    run_id = str(require(message.run_id or message.run_uuid, "run_id"))
    key = require(message.metric_key, "metric_key")
    limit = message.max_results
    if limit is not None and not 1 <= limit <= MAX_HISTORY_RESULTS:
        raise InvalidInput(
            f"max_results must be from 1 to {MAX_HISTORY_RESULTS}", field="max_results"
        )
    search = tokens.fingerprint("metric-history", run_id, key)
    from_step, skip = None, 0
    if message.page_token:
        position = tokens.decode(message.page_token, search)
        from_step, skip = tokens.get_int(position, "s"), tokens.get_int(position, "k")
    history = await store(request).metrics.history(run_id, key, min_step=from_step)
    end = len(history.steps) if limit is None else min(len(history.steps), skip + limit)
    answer: dict[str, Any] = {"metrics": _points(history, skip, end)}
    if end < len(history.steps):
        last_step = history.steps[end - 1]
        same_step = sum(1 for i in range(end) if history.steps[i] == last_step)
        answer["next_page_token"] = tokens.encode(search, s=last_step, k=same_step)
    return reply(answer)


def sampled_rows(total: int, wanted: int) -> list[int]:
    """Which of a run's ``total`` points (in step order) a sample of ``wanted`` keeps.

    MLflow's server cuts the points into ``wanted`` buckets of sizes differing by at most one,
    the larger first (SQL's ``NTILE``), keeps each bucket's first point, and then the run's
    last point in place of the last kept one: first and last are always there, and a run is
    sampled on its own points, not on the steps of the others.
    """
    if total <= wanted:
        return list(range(total))
    size, larger = divmod(total, wanted)
    kept = [i * size + min(i, larger) for i in range(wanted)]
    kept[-1] = total - 1
    return kept


async def get_history_bulk_interval(request: Request) -> Response:
    message = await parse(request, GetHistoryBulkInterval)
    if not message.run_ids:
        require(None, "run_ids")
    if len(message.run_ids) > MAX_BULK_RUNS:
        raise InvalidInput(
            f"GetMetricHistoryBulkInterval request must specify at most {MAX_BULK_RUNS} run_ids. "
            f"Received {len(message.run_ids)} run_ids.",
            field="run_ids",
        )
    key = require(message.metric_key, "metric_key")
    wanted = MAX_BULK_RESULTS if message.max_results is None else message.max_results
    if not 1 <= wanted <= MAX_BULK_RESULTS:
        raise InvalidInput(
            f"max_results must be between 1 and {MAX_BULK_RESULTS}.", field="max_results"
        )
    if (message.start_step is None) != (message.end_step is None):
        raise InvalidInput(
            "If either start step or end step are specified, both must be specified.",
            field="start_step",
        )
    if message.start_step is not None and message.end_step is not None:
        if message.start_step > message.end_step:
            raise InvalidInput(
                "end_step must be greater than start_step. Found "
                f"start_step={message.start_step} and end_step={message.end_step}.",
                field="end_step",
            )
    metrics = store(request).metrics
    points: list[dict[str, Any]] = []
    for run_id in dict.fromkeys(message.run_ids):
        history = await metrics.history(
            run_id, key, min_step=message.start_step, max_step=message.end_step
        )
        for i in sampled_rows(len(history.steps), wanted):
            points.append({**_points(history, i, i + 1)[0], "run_id": run_id})
    return reply({"metrics": points})


routes = [
    endpoint("GET", "/metrics/get-history", get_metric_history, Access.READ),
    endpoint("GET", "/metrics/get-history-bulk-interval", get_history_bulk_interval, Access.READ),
]
