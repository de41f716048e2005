"""Compare 2 to 20 runs: params and metrics side by side (optionally only the differences),
overlaid charts, and a parallel-coordinates plot of params against a chosen metric."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.errors import InvalidInput
from modelyard.server.api._request import store
from modelyard.server.ui import charts
from modelyard.server.ui._render import fmt_value, page, render
from modelyard.server.ui._state import View
from modelyard.store import validation as v
from modelyard.store.run_data import Run

MIN_RUNS, MAX_RUNS = 2, 20
MAX_CHARTS = 6
# Parallel coordinates geometry (viewBox units).
PC_WIDTH, PC_HEIGHT, PC_TOP, PC_BOTTOM, PC_LEFT, PC_RIGHT = 800, 320, 28, 290, 40, 760


@dataclass
class Axis:
    label: str
    x: float
    ticks: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Parallel:
    metric: str
    axes: list[Axis] = field(default_factory=list)
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # label, color, points


def side_by_side(
    runs: list[Run], values: list[dict[str, str]], only_diff: bool
) -> list[dict[str, Any]]:
    keys = sorted({k for found in values for k in found})
    rows = []
    for key in keys:
        cells = [found.get(key, "") for found in values]
        differs = len(set(cells)) > 1
        if only_diff and not differs:
            continue
        rows.append({"key": key, "cells": cells, "differs": differs})
    return rows


def _as_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parallel(runs: list[Run], metric: str) -> Parallel:
    """Axes: each param that differs between the runs, then the metric; one line per run."""
    plot = Parallel(metric=metric)
    params = sorted({k for r in runs for k in r.params})
    varying = [k for k in params if len({r.params.get(k, "") for r in runs}) > 1] or params
    names = [*varying[:12], None]
    step = (PC_RIGHT - PC_LEFT) / max(1, len(names) - 1)
    positions: list[dict[str, float]] = [{} for _ in runs]
    for index, key in enumerate(names):
        x = PC_LEFT + index * step
        axis = Axis(label=key if key is not None else f"metrics.{metric}", x=x)
        raw = [
            (r.params.get(key, "") if key is not None
             else (fmt_value(r.metrics[metric].value) if metric in r.metrics else ""))
            for r in runs
        ]  # fmt: skip
        numbers = [_as_number(t) for t in raw]
        if all(n is not None for n in numbers if True) and any(t for t in raw):
            present = [n for n in numbers if n is not None]
            low, high = min(present), max(present)
            span = (high - low) or 1.0
            for i, n in enumerate(numbers):
                if n is not None:
                    positions[i][axis.label] = PC_BOTTOM - (n - low) / span * (PC_BOTTOM - PC_TOP)
            axis.ticks = [(PC_BOTTOM, fmt_value(low)), (PC_TOP, fmt_value(high))]
        else:
            levels = sorted(set(raw))
            gap = (PC_BOTTOM - PC_TOP) / max(1, len(levels) - 1)
            where = {t: PC_BOTTOM - i * gap for i, t in enumerate(levels)}
            for i, t in enumerate(raw):
                positions[i][axis.label] = where[t]
            axis.ticks = [(where[t], t or "(none)") for t in levels]
        plot.axes.append(axis)
    for i, run in enumerate(runs):
        points = " ".join(
            f"{a.x:.1f},{positions[i][a.label]:.1f}" for a in plot.axes if a.label in positions[i]
        )
        plot.lines.append((run.name, charts.PALETTE[i % len(charts.PALETTE)], points))
    return plot


@access(Access.READ)
@page
async def compare_page(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    ids = list(dict.fromkeys(v.check_uuid(r).hex for r in view.getlist("run")))
    if not MIN_RUNS <= len(ids) <= MAX_RUNS:
        raise InvalidInput(f"compare needs {MIN_RUNS} to {MAX_RUNS} runs", field="run")
    only_diff = view.get("diff") == "1"
    settings = charts.Settings.read(view)
    st = store(request)
    runs = [await st.runs.get(r) for r in ids]
    metric_values = [{k: fmt_value(m.value) for k, m in r.metrics.items()} for r in runs]
    metric_keys = sorted({k for r in runs for k in r.metrics})
    chosen = [k for k in view.getlist("metric") if k in metric_keys] or metric_keys[:MAX_CHARTS]
    labels = [(r.run_id, r.name) for r in runs]
    figures = [await charts.build(st, labels, key, settings) for key in chosen]
    pc_metric = view.get("pc") if view.get("pc") in metric_keys else (metric_keys or [""])[0]
    return render(
        request,
        "compare.html",
        title="Compare runs",
        runs=runs,
        params=side_by_side(runs, [r.params for r in runs], only_diff),
        metrics=side_by_side(runs, metric_values, only_diff),
        tags=side_by_side(runs, [r.tags for r in runs], only_diff),
        only_diff=only_diff,
        figures=figures,
        settings=settings,
        metric_keys=metric_keys,
        parallel=parallel(runs, pc_metric) if pc_metric else None,
        palette=charts.PALETTE,
        view=view,
    )


routes = [Route("/compare", compare_page)]
