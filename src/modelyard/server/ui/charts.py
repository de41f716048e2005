"""Server-rendered SVG charts of metrics: one line per run, by step or time, log scale, EMA.

The points come from :class:`modelyard.store.metric_charts.MetricCharts`, downsampled in
PostgreSQL to about two buckets per pixel, so the SVG holds a few thousand points at most
whatever the series' length. Zooming puts the x range into the URL (``lo``, ``hi``) and the
server answers with that range at full detail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.errors import InvalidInput
from modelyard.server.api._request import store
from modelyard.server.ui._render import fmt_time, fmt_value, page, render
from modelyard.server.ui._state import View, choice, integer, number
from modelyard.store import Store
from modelyard.store import validation as v

WIDTH, HEIGHT = 800, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 788, 12, 270
# Two buckets per pixel of the plot area: every pixel column shows its true min and max.
BUCKETS = 2 * (RIGHT - LEFT)
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
)  # fmt: skip
MAX_RUNS = 20


@dataclass(frozen=True)
class Settings:
    """Chart settings read from the query string (the same names on every page)."""

    axis: str = "step"
    log: bool = False
    smooth: float = 0.0
    lo: int | None = None
    hi: int | None = None

    @classmethod
    def read(cls, view: View) -> Settings:
        lo, hi = integer(view, "lo"), integer(view, "hi")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidInput("lo must not exceed hi", field="lo")
        return cls(
            axis=choice(view, "x", ("step", "time"), "step"),
            log=view.get("log") == "1",
            smooth=number(view, "smooth", 0.0, 0.0, 0.99) or 0.0,
            lo=lo,
            hi=hi,
        )


@dataclass
class Line:
    label: str
    color: str
    points: str
    count: int
    total: int
    downsampled: bool


@dataclass
class Chart:
    key: str
    settings: Settings
    lines: list[Line] = field(default_factory=list)
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    dropped: int = 0  # points not drawable (NaN, infinite, or <= 0 on a log scale)

    @property
    def points(self) -> int:
        return sum(line.count for line in self.lines)


def ema(values: list[float], weight: float) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing)."""
    if weight <= 0:
        return values
    out: list[float] = []
    last, debias = 0.0, 0.0
    for value in values:
        last = last * weight + (1 - weight) * value
        debias = debias * weight + (1 - weight)
        out.append(last / debias)
    return out


async def build(
    st: Store, runs: list[tuple[str, str]], key: str, settings: Settings, buckets: int = BUCKETS
) -> Chart:
    """The chart of metric ``key`` for ``runs`` ((run id, label) pairs)."""
    v.check_key(key, "metric key")
    chart = Chart(key=key, settings=settings)
    series = []
    for run_id, label in runs[:MAX_RUNS]:
        found = await st.metric_charts.series(
            run_id, key, axis=settings.axis, lo=settings.lo, hi=settings.hi, buckets=buckets
        )
        xs, ys = [], []
        for x, y in zip(found.xs, found.values, strict=True):
            if math.isfinite(y) and (not settings.log or y > 0):
                xs.append(x)
                ys.append(math.log10(y) if settings.log else y)
            else:
                chart.dropped += 1
        series.append((label, xs, ema(ys, settings.smooth), found))
    all_x = [x for _, xs, _, _ in series for x in xs]
    all_y = [y for _, _, ys, _ in series for y in ys]
    if not all_x:
        return chart
    chart.x0 = float(settings.lo if settings.lo is not None else min(all_x))
    chart.x1 = float(settings.hi if settings.hi is not None else max(all_x))
    chart.y0, chart.y1 = min(all_y), max(all_y)
    if chart.x1 == chart.x0:
        chart.x1 = chart.x0 + 1
    if chart.y1 == chart.y0:
        chart.y0, chart.y1 = chart.y0 - 0.5, chart.y1 + 0.5
    for index, (label, xs, ys, found) in enumerate(series):
        chart.lines.append(
            Line(
                label=label,
                color=PALETTE[index % len(PALETTE)],
                points=" ".join(
                    f"{_px(chart, x):.1f},{_py(chart, y):.1f}" for x, y in zip(xs, ys, strict=True)
                ),
                count=len(xs),
                total=found.total_points,
                downsampled=found.downsampled,
            )
        )
    chart.x_ticks = [
        (_px(chart, x), fmt_time(int(x)) if settings.axis == "time" else f"{x:.6g}")
        for x in _ticks(chart.x0, chart.x1)
    ]
    chart.y_ticks = [
        (_py(chart, y), fmt_value(10**y if settings.log else y)) for y in _ticks(chart.y0, chart.y1)
    ]
    return chart


def _px(chart: Chart, x: float) -> float:
    return LEFT + (x - chart.x0) / (chart.x1 - chart.x0) * (RIGHT - LEFT)


def _py(chart: Chart, y: float) -> float:
    return BOTTOM - (y - chart.y0) / (chart.y1 - chart.y0) * (BOTTOM - TOP)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    return [low + (high - low) * i / (count - 1) for i in range(count)]


@access(Access.READ)
@page
async def chart_fragment(request: Request) -> Response:
    """One chart as an HTML fragment, for pages that refresh charts in place (live)."""
    view = View(request.url.path, request.query_params)
    settings = Settings.read(view)
    run_ids = [v.check_uuid(r).hex for r in view.getlist("run")][:MAX_RUNS]
    if not run_ids:
        raise InvalidInput("at least one run is needed", field="run")
    key = view.get("key")
    st = store(request)
    runs = [(r, (await st.runs.get(r)).name) for r in run_ids]
    chart = await build(st, runs, key, settings)
    return render(request, "chart_fragment.html", chart=chart, view=view)


routes = [Route("/chart", chart_fragment)]
