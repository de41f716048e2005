"""``modelyard experiments`` and ``modelyard runs``: tracking data from a terminal."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli._common import client_for, option, url_option
from modelyard.cli._output import json_option, show, show_one
from modelyard.cli.metrics_import import import_metrics
from modelyard.client import Client
from modelyard.errors import NotFound

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
    items = client_for(ctx, url).list_experiments(lifecycle=lifecycle, limit=limit)
    show(items, EXPERIMENT_COLUMNS, as_json=as_json, times=["creation_time"])


@experiments.command("show")
@click.argument("experiment")
@url_option
@json_option
@click.pass_context
def experiments_show(ctx: click.Context, experiment: str, url: str, as_json: bool) -> None:
    """Show an experiment by id or name."""
    client = client_for(ctx, url)
    show_one(_find_experiment(client, experiment), as_json=as_json)


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
    created = client_for(ctx, url).create_experiment(
        name, description=description, tags=_pairs(tags)
    )
    show_one(created, as_json=as_json)


@experiments.command("delete")
@click.argument("experiment_id", type=int)
@url_option
@click.pass_context
def experiments_delete(ctx: click.Context, experiment_id: int, url: str) -> None:
    """Delete an experiment and its runs (soft: `restore` brings them back)."""
    client_for(ctx, url).delete_experiment(experiment_id)
    click.echo(f"deleted experiment {experiment_id}")


@experiments.command("restore")
@click.argument("experiment_id", type=int)
@url_option
@click.pass_context
def experiments_restore(ctx: click.Context, experiment_id: int, url: str) -> None:
    """Restore a deleted experiment and the runs deleted with it."""
    client_for(ctx, url).restore_experiment(experiment_id)
    click.echo(f"restored experiment {experiment_id}")


@click.group()
def runs() -> None:
    """Show, search, create, delete and restore runs."""


def _experiment_ids(client: Client, experiments: tuple[str, ...]) -> list[int]:
    return [int(_find_experiment(client, e)["experiment_id"]) for e in experiments]


def _find_experiment(client: Client, experiment: str) -> dict[str, Any]:
    """An experiment given by id or by name (a name of digits when there is no such id)."""
    if not experiment.isdigit():
        return client.get_experiment_by_name(experiment)
    try:
        return client.get_experiment(int(experiment))
    except NotFound as missing:
        try:
            return client.get_experiment_by_name(experiment)
        except NotFound:
            raise missing from None


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
    client = client_for(ctx, url)
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
    client = client_for(ctx, url)
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
    run = client_for(ctx, url).get_run(run_id)
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
    client = client_for(ctx, url)
    (experiment_id,) = _experiment_ids(client, (experiment,))
    show_one(client.create_run(experiment_id, name=name, tags=_pairs(tags)), as_json=as_json)


@runs.command("delete")
@click.argument("run_id")
@url_option
@click.pass_context
def runs_delete(ctx: click.Context, run_id: str, url: str) -> None:
    """Delete a run (soft)."""
    client_for(ctx, url).delete_run(run_id)
    click.echo(f"deleted run {run_id}")


@runs.command("restore")
@click.argument("run_id")
@url_option
@click.pass_context
def runs_restore(ctx: click.Context, run_id: str, url: str) -> None:
    """Restore a deleted run."""
    client_for(ctx, url).restore_run(run_id)
    click.echo(f"restored run {run_id}")


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--tag")
        pairs[key] = value
    return pairs


runs.add_command(import_metrics)
