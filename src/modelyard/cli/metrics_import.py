"""``modelyard runs import-metrics``: metric points from a CSV file, checked whole before sending.

The file is read twice: once to check every line (so a typo on line 90,000 costs nothing and
writes nothing), once to send the points in batches. A failure while sending (the server went
away, the run was deleted) says how many points were stored before it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from modelyard.cli._common import client_for, option, url_option
from modelyard.client import Client
from modelyard.errors import InvalidInput, ModelyardError
from modelyard.store.validation import MAX_INT64, MIN_INT64, check_key

COLUMNS = ("key", "value", "step", "timestamp")
Point = tuple[str, float, int, int]


def read_points(path: Path) -> Iterator[Point]:
    """The points of ``path``, each line checked; InvalidInput names the first bad line."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        for row in reader:
            try:
                yield _point(row)
            except InvalidInput as exc:
                raise InvalidInput(f"{path}:{reader.line_num}: {exc.message}") from None


def _point(row: dict[str | None, str | None]) -> Point:
    if None in row:  # DictReader files surplus fields under the key None
        raise InvalidInput(f"more fields than the {len(row) - 1} columns of the header")
    fields = [row[name] for name in COLUMNS]
    if any(value is None for value in fields):
        raise InvalidInput("fewer fields than the columns of the header")
    key, value, step, timestamp = (str(value) for value in fields)
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput(f"value {value!r} is not a number") from None
    return (
        check_key(key, "metric key"),
        number,
        _int64(step, "step"),
        _int64(timestamp, "timestamp"),
    )


def _int64(text: str, field: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise InvalidInput(f"{field} {text!r} is not an integer") from None
    if not MIN_INT64 <= number <= MAX_INT64:
        raise InvalidInput(f"{field} {text!r} is out of range")
    return number


def import_points(client: Client, run_id: str, path: Path, batch_size: int) -> int:
    """Check all of ``path``, then send its points in batches; the number of points sent."""
    total = sum(1 for _ in read_points(path))
    console = Console(stderr=True)
    sent = 0
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("import", total=total)
        batch: list[Point] = []
        try:
            for point in read_points(path):
                batch.append(point)
                if len(batch) >= batch_size:
                    sent += _send(client, run_id, batch)
                    progress.update(task, completed=sent)
            sent += _send(client, run_id, batch)
        except ModelyardError as exc:
            if sent:
                exc.message = f"{exc.message} ({sent} of {total} points were imported before)"
            raise
    return sent


def _send(client: Client, run_id: str, batch: list[Point]) -> int:
    if not batch:
        return 0
    keys, values, steps, stamps = (list(column) for column in zip(*batch, strict=True))
    client.log_metric_batch(run_id, keys, values, steps, stamps)
    count = len(batch)
    batch.clear()
    return count


@click.command("import-metrics")
@click.argument("run_id")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@option("--batch-size", type=click.IntRange(1, 100_000), default=10_000)
@url_option
@click.pass_context
def import_metrics(
    ctx: click.Context, run_id: str, csv_file: Path, batch_size: int, url: str
) -> None:
    """Load metric points from a CSV with columns key,value,step,timestamp.

    Every line is checked before anything is sent: a bad line is reported with its number and
    nothing is imported. Values may be NaN, inf and -inf. A progress bar shows on a terminal.
    """
    sent = import_points(client_for(ctx, url), run_id, csv_file, batch_size)
    click.echo(f"imported {sent} points into run {run_id}")
