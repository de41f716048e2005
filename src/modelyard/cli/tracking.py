"""``modelyard experiments`` and ``modelyard runs``: tracking data from a terminal."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from modelyard.cli._common import option
from modelyard.cli._output import json_option, show, show_one
from modelyard.client import Client
from modelyard.errors import InvalidInput

url_option = option(
    "--url",
    envvar="MODELYARD_URL",
    show_envvar=True,
    default="http://127.0.0.1:5000",
    help="URL of the modelyard server.",
)

EXPERIMENT_COLUMNS = [
    ("experiment_id", "ID"),
    ("name", "NAME"),
    ("lifecycle_stage", "STATE"),
    ("creation_time", "CREATED"),
]
RUN_COLUMNS = [
    ("run_id", "RUN ID"),
    ("name", "NAME"),
    ("status", "STATUS"),
    ("start_time", "STARTED"),
    ("metrics", "METRICS"),
]


def _client(ctx: click.Context, url: str) -> Client:
    return ctx.with_resource(Client(url))


def _latest_values(run: dict[str, Any]) -> dict[str, Any]:
    """A run for a table: its latest metric values instead of the full metric records."""
    shown = dict(run)
    metrics = run.get("metrics") or {}
    if isinstance(metrics, dict):
        shown["metrics"] = {
            k: (v.get("value") if isinstance(v, dict) else v) for k, v in metrics.items()
        }
    return shown


@click.group()
def experiments() -> None:
    """List, create, delete and restore experiments."""


@experiments.command("list")
@option("--lifecycle", type=click.Choice(["active", "deleted", "all"]), default="active")
@option("--limit", type=click.IntRange(1), default=None, help="Show at most N.")
@url_option
@json_option
@click.pass_context
def experiments_list(
    ctx: click.Context, lifecycle: str, limit: int | None, url: str, as_json: bool
) -> None:
    """List experiments."""
    items = _client(ctx, url).list_experiments(lifecycle=lifecycle, limit=limit)
    show(items, EXPERIMENT_COLUMNS, as_json=as_json, times=["creation_time"])


@experiments.command("show")
@click.argument("experiment")
@url_option
@json_option
@click.pass_context
def experiments_show(ctx: click.Context, experiment: str, url: str, as_json: bool) -> None:
    """Show an experiment by id or name."""
    client = _client(ctx, url)
    found = (
        client.get_experiment(int(experiment))
        if experiment.isdigit()
        else client.get_experiment_by_name(experiment)
    )
    show_one(found, as_json=as_json)


@experiments.command("create")
@click.argument("name")
@option("--description", default=None)
@option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@url_option
@json_option
@click.pass_context
def experiments_create(
    ctx: click.Context,
    name: str,
    description: str | None,
    tags: tuple[str, ...],
    url: str,
    as_json: bool,
) -> None:
    """Create an experiment."""
    created = _client(ctx, url).create_experiment(name, description=description, tags=_pairs(tags))
    show_one(created, as_json=as_json)


@experiments.command("delete")
@click.argument("experiment_id", type=int)
@url_option
@click.pass_context
def experiments_delete(ctx: click.Context, experiment_id: int, url: str) -> None:
    """Delete an experiment and its runs (soft: `restore` brings them back)."""
    _client(ctx, url).delete_experiment(experiment_id)
    click.echo(f"deleted experiment {experiment_id}")


@experiments.command("restore")
@click.argument("experiment_id", type=int)
@url_option
@click.pass_context
def experiments_restore(ctx: click.Context, experiment_id: int, url: str) -> None:
    """Restore a deleted experiment and the runs deleted with it."""
    _client(ctx, url).restore_experiment(experiment_id)
    click.echo(f"restored experiment {experiment_id}")


@click.group()
def runs() -> None:
    """Show, search, create, delete and restore runs."""


def _experiment_ids(client: Client, experiments: tuple[str, ...]) -> list[int]:
    return [
        int(e) if e.isdigit() else int(client.get_experiment_by_name(e)["experiment_id"])
        for e in experiments
    ]


@runs.command("search")
@click.argument("filter", required=False)
@option(
    "--experiment",
    "-e",
    "experiments",
    multiple=True,
    required=True,
    help="Experiment id or name (repeatable).",
)
@option("--order-by", "-o", multiple=True, help="e.g. 'metrics.loss ASC' (repeatable).")
@option("--max-results", type=click.IntRange(1, 50_000), default=100)
@option("--lifecycle", type=click.Choice(["active", "deleted", "all"]), default="active")
@url_option
@json_option
@click.pass_context
def runs_search(
    ctx: click.Context,
    filter: str | None,
    experiments: tuple[str, ...],
    order_by: tuple[str, ...],
    max_results: int,
    lifecycle: str,
    url: str,
    as_json: bool,
) -> None:
    """Find runs with the search language, e.g. "metrics.loss < 0.5 and params.lr = '0.01'"."""
    client = _client(ctx, url)
    found = client.search_runs(
        _experiment_ids(client, experiments),
        filter,
        order_by=order_by,
        max_results=max_results,
        lifecycle=lifecycle,
    )
    if as_json:
        show(found, RUN_COLUMNS, as_json=True)
    else:
        show([_latest_values(r) for r in found], RUN_COLUMNS, as_json=False, times=["start_time"])


@runs.command("list")
@option("--experiment", "-e", "experiments", multiple=True, required=True)
@option("--max-results", type=click.IntRange(1, 50_000), default=100)
@url_option
@json_option
@click.pass_context
def runs_list(
    ctx: click.Context, experiments: tuple[str, ...], max_results: int, url: str, as_json: bool
) -> None:
    """List the newest runs of experiments."""
    client = _client(ctx, url)
    found = client.search_runs(_experiment_ids(client, experiments), max_results=max_results)
    rows = found if as_json else [_latest_values(r) for r in found]
    show(rows, RUN_COLUMNS, as_json=as_json, times=["start_time"])


@runs.command("show")
@click.argument("run_id")
@url_option
@json_option
@click.pass_context
def runs_show(ctx: click.Context, run_id: str, url: str, as_json: bool) -> None:
    """Show a run with its params, tags and latest metrics."""
    run = _client(ctx, url).get_run(run_id)
    show_one(run if as_json else _latest_values(run), as_json=as_json)


@runs.command("create")
@option("--experiment", "-e", required=True, help="Experiment id or name.")
@option("--name", default=None)
@option("--tag", "tags", multiple=True, metavar="KEY=VALUE")
@url_option
@json_option
@click.pass_context
def runs_create(
    ctx: click.Context,
    experiment: str,
    name: str | None,
    tags: tuple[str, ...],
    url: str,
    as_json: bool,
) -> None:
    """Create a run (status RUNNING)."""
    client = _client(ctx, url)
    (experiment_id,) = _experiment_ids(client, (experiment,))
    show_one(client.create_run(experiment_id, name=name, tags=_pairs(tags)), as_json=as_json)


@runs.command("delete")
@click.argument("run_id")
@url_option
@click.pass_context
def runs_delete(ctx: click.Context, run_id: str, url: str) -> None:
    """Delete a run (soft)."""
    _client(ctx, url).delete_run(run_id)
    click.echo(f"deleted run {run_id}")


@runs.command("restore")
@click.argument("run_id")
@url_option
@click.pass_context
def runs_restore(ctx: click.Context, run_id: str, url: str) -> None:
    """Restore a deleted run."""
    _client(ctx, url).restore_run(run_id)
    click.echo(f"restored run {run_id}")


@runs.command("import-metrics")
@click.argument("run_id")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@option("--batch-size", type=click.IntRange(1, 100_000), default=10_000)
@url_option
@click.pass_context
def runs_import_metrics(
    ctx: click.Context, run_id: str, csv_file: Path, batch_size: int, url: str
) -> None:
    """Load metric points from a CSV with columns key,value,step,timestamp (progress shown)."""
    client = _client(ctx, url)
    total = max(0, sum(1 for _ in csv_file.open(encoding="utf-8")) - 1)
    sent = 0
    with (
        csv_file.open(newline="", encoding="utf-8") as handle,
        Progress(
            TextColumn("importing"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeRemainingColumn(),
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("import", total=total)
        reader = csv.DictReader(handle)
        missing = {"key", "value", "step", "timestamp"} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(f"{csv_file} lacks the column(s) {', '.join(sorted(missing))}")
        columns: tuple[list[str], list[float], list[int], list[int]] = ([], [], [], [])
        for line, row in enumerate(reader, start=2):
            try:
                columns[1].append(float(row["value"]))
                columns[2].append(int(row["step"]))
                columns[3].append(int(row["timestamp"]))
            except ValueError as exc:
                raise InvalidInput(f"{csv_file}:{line}: {exc}") from None
            columns[0].append(row["key"])
            if len(columns[0]) >= batch_size:
                sent += _send_batch(client, run_id, columns)
                progress.update(task, completed=sent)
        sent += _send_batch(client, run_id, columns)
        progress.update(task, completed=sent)
    click.echo(f"imported {sent} points into run {run_id}")


def _send_batch(
    client: Client, run_id: str, columns: tuple[list[str], list[float], list[int], list[int]]
) -> int:
    count = len(columns[0])
    if count:
        client.log_metric_batch(
            run_id,
            columns[0],
            columns[1],
            columns[2],
            columns[3],
            idempotency_key=uuid.uuid4().hex,
        )
        for column in columns:
            column.clear()
    return count


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--tag")
        pairs[key] = value
    return pairs
