"""The runs table of an experiment: filter, sort, columns, summaries, tree, bulk actions, CSV.

The table reads one page through the store's run search (keyset tokens for the default order,
stable segment tokens for any other), so page 1000 costs what page 1 costs. Without a filter it
lists top-level runs; a run's children open under it (``open`` parameters), to any depth.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.errors import FilterSyntaxError, InvalidInput
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.server.api._request import store
from modelyard.server.ui._columns import (
    ATTRIBUTES,
    SUMMARIES,
    Column,
    cell,
    parse_column,
)
from modelyard.server.ui._csrf import checked_form
from modelyard.server.ui._flash import redirect
from modelyard.server.ui._render import page, render
from modelyard.server.ui._state import View, choice
from modelyard.store import Store
from modelyard.store.experiments import LIFECYCLES, check_experiment_id
from modelyard.store.run_data import Run

PAGE_SIZES = ("25", "50", "100", "200")
DEFAULT_ATTRIBUTES = ("status", "start_time", "duration", "user_id")
DEFAULT_METRICS = 5
DEFAULT_PARAMS = 5
MAX_ROWS = 2000  # rows on one page, children included
MAX_DEPTH = 64
CSV_LIMIT = 50_000
TOP_LEVEL = "attributes.parent_run_id IS NULL"
BULK_ACTIONS = ("compare", "tag", "delete", "restore")
MAX_COMPARE = 20
MAX_BULK = 1000


@dataclass
class Row:
    run: Run
    depth: int
    children: int = 0
    open: bool = False


@dataclass
class Table:
    """Everything the runs template needs, worked out from the view."""

    view: View
    experiment_id: int
    filter: str
    sort: str
    direction: str
    lifecycle: str
    page_size: int
    tree: bool
    columns: list[Column] = field(default_factory=list)
    summaries: dict[str, str] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    next_token: str | None = None
    error: FilterSyntaxError | InvalidInput | None = None
    choices: list[Column] = field(default_factory=list)
    extremes: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)

    @property
    def order_by(self) -> list[str] | None:
        return [f"{self.sort} {self.direction.upper()}"] if self.sort else None

    @property
    def effective_filter(self) -> str | None:
        if self.filter.strip():
            return self.filter
        return TOP_LEVEL if self.tree else None

    def cell(self, run: Run, column: Column) -> str:
        return cell(run, column, self.summaries.get(column.key, "last"), self.extremes)


def read_view(request: Request) -> Table:
    view = View(request.url.path, request.query_params)
    direction = choice(view, "dir", ("asc", "desc"), "desc")
    summaries = {}
    for key, value in view.with_prefix("agg.").items():
        if value not in SUMMARIES:
            raise InvalidInput(f"summary of {key!r} must be last, min or max", field="agg")
        summaries[key] = value
    return Table(
        view=view,
        experiment_id=check_experiment_id(request.path_params["experiment_id"]),
        filter=view.get("filter"),
        sort=view.get("sort").strip(),
        direction=direction,
        lifecycle=choice(view, "lifecycle", LIFECYCLES, "active"),
        page_size=int(choice(view, "n", PAGE_SIZES, "50")),
        tree=view.get("tree", "1") != "0",
        columns=[parse_column(spec) for spec in view.getlist("col")],
        summaries=summaries,
    )


def check_inputs(table: Table) -> None:
    """Parse filter and sort first, so an error points into the text the user typed."""
    parse_filter(table.filter)
    if table.sort:
        try:
            parse_order_by([table.sort])
        except FilterSyntaxError as exc:
            raise InvalidInput(f"sort: {exc.message}", field="sort") from None


async def fill(table: Table, st: Store) -> None:
    """Search one page, open the requested subtrees, and gather columns and summaries."""
    page_ = await st.run_search.search_runs(
        [table.experiment_id],
        table.effective_filter,
        table.order_by,
        lifecycle=table.lifecycle,
        max_results=table.page_size,
        page_token=table.view.get("page") or None,
    )
    table.next_token = page_.next_page_token
    opened = set(table.view.getlist("open"))
    await _add_rows(table, st, page_.items, 0, opened)
    metric_keys = await st.overview.metric_keys(table.experiment_id)
    table.choices = _column_choices(table, metric_keys)
    if not table.columns:
        table.columns = _default_columns(table, metric_keys)
    wanted = [
        c.key
        for c in table.columns
        if c.entity == "metrics" and table.summaries.get(c.key, "last") != "last"
    ]
    table.extremes = await st.overview.metric_extremes(
        [row.run.run_id for row in table.rows], wanted
    )


async def _add_rows(table: Table, st: Store, runs: list[Run], depth: int, opened: set[str]) -> None:
    counts = await st.overview.child_counts([r.run_id for r in runs], table.lifecycle)
    for run in runs:
        if len(table.rows) >= MAX_ROWS:
            return
        row = Row(run, depth, counts.get(run.run_id, 0), run.run_id in opened)
        table.rows.append(row)
        if row.open and row.children and depth < MAX_DEPTH:
            children = await st.overview.children(run.run_id, table.lifecycle)
            await _add_rows(table, st, children, depth + 1, opened)


def _default_columns(table: Table, metric_keys: list[str]) -> list[Column]:
    columns = [Column("attributes", key) for key in DEFAULT_ATTRIBUTES]
    columns += [Column("metrics", key) for key in metric_keys[:DEFAULT_METRICS]]
    params = sorted({k for row in table.rows for k in row.run.params})
    columns += [Column("params", key) for key in params[:DEFAULT_PARAMS]]
    return columns


def _column_choices(table: Table, metric_keys: list[str]) -> list[Column]:
    found = [Column("attributes", key) for key in ATTRIBUTES]
    found += [Column("metrics", key) for key in metric_keys]
    found += [Column("params", k) for k in sorted({k for r in table.rows for k in r.run.params})]
    found += [Column("tags", k) for k in sorted({k for r in table.rows for k in r.run.tags})]
    for column in table.columns:
        if column not in found:
            found.append(column)
    return found


@access(Access.READ)
@page
async def runs_page(request: Request) -> Response:
    table = read_view(request)
    st = store(request)
    experiment = await st.experiments.get(table.experiment_id)
    try:
        check_inputs(table)
        await fill(table, st)
    except (FilterSyntaxError, InvalidInput) as exc:
        table.error = exc
        metric_keys = await st.overview.metric_keys(table.experiment_id)
        table.choices = _column_choices(table, metric_keys)
        if not table.columns:
            table.columns = _default_columns(table, metric_keys)
    return render(
        request,
        "runs.html",
        title=f"{experiment.name} · runs",
        experiment=experiment,
        table=table,
        view=table.view,
        selected=set(table.view.getlist("sel")),
        summaries=SUMMARIES,
        page_sizes=PAGE_SIZES,
    )


@access(Access.READ)
@page
async def runs_csv(request: Request) -> Response:
    table = read_view(request)
    st = store(request)
    check_inputs(table)
    # An experiment this caller cannot see is a 404, as on its page, not an empty file.
    await st.experiments.get(table.experiment_id)
    first = await st.run_search.search_runs(
        [table.experiment_id], table.effective_filter, table.order_by,
        lifecycle=table.lifecycle, max_results=1, page_token=None,
    )  # fmt: skip
    metric_keys = await st.overview.metric_keys(table.experiment_id)
    table.rows = [Row(run, 0) for run in first.items]
    if not table.columns:
        table.columns = _default_columns(table, metric_keys)
    return StreamingResponse(
        _csv_rows(table, st),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="experiment-{table.experiment_id}.csv"'
        },
    )


async def _csv_rows(table: Table, st: Store) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run_id", "run_name", *(c.spec for c in table.columns)])
    token: str | None = None
    sent = 0
    wanted = [c.key for c in table.columns if c.entity == "metrics"]
    while sent < CSV_LIMIT:
        found = await st.run_search.search_runs(
            [table.experiment_id], table.effective_filter, table.order_by,
            lifecycle=table.lifecycle, max_results=min(1000, CSV_LIMIT - sent), page_token=token,
        )  # fmt: skip
        table.extremes = await st.overview.metric_extremes(
            [r.run_id for r in found.items], wanted
        )
        for run in found.items:
            writer.writerow([run.run_id, run.name, *(table.cell(run, c) for c in table.columns)])
        sent += len(found.items)
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
        token = found.next_page_token
        if token is None:
            break


@access(Access.WRITE)
@page
async def bulk_action(request: Request) -> Response:
    form = await checked_form(request)
    experiment_id = check_experiment_id(request.path_params["experiment_id"])
    action = form.get("action")
    runs = [r for r in form.getlist("run") if isinstance(r, str)][:MAX_BULK]
    back = form.get("next")
    location = back if isinstance(back, str) else f"/ui/experiments/{experiment_id}"
    if action not in BULK_ACTIONS:
        raise InvalidInput("action must be compare, tag, delete or restore", field="action")
    if not runs:
        return redirect(location, "No runs selected")
    if action == "compare":
        return redirect("/ui/compare?" + urlencode([("run", r) for r in runs[:MAX_COMPARE]]))
    st = store(request)
    if action == "tag":
        key, value = form.get("tag_key"), form.get("tag_value")
        if not isinstance(key, str) or not key.strip():
            raise InvalidInput("a tag key is needed", field="tag_key")
        for run_id in runs:
            await st.runs.set_tags(run_id, {key.strip(): value if isinstance(value, str) else ""})
    elif action == "delete":
        for run_id in runs:
            await st.runs.delete(run_id)
    else:
        for run_id in runs:
            await st.runs.restore(run_id)
    done = {"tag": "Tagged", "delete": "Deleted", "restore": "Restored"}[str(action)]
    return redirect(location, f"{done} {len(runs)} run(s)")


_ONE = "/experiments/{experiment_id}"

routes = [
    Route(_ONE, runs_page),
    Route(_ONE + "/runs.csv", runs_csv),
    Route(_ONE + "/bulk", bulk_action, methods=["POST"]),
]
