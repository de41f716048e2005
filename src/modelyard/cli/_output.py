"""How CLI commands show results: readable tables by default, JSON with ``--json``."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from modelyard.cli._common import echo_json, option

F = TypeVar("F", bound=Callable[..., Any])

json_option: Callable[[F], F] = option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of a table."
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def format_time(ms: Any) -> str:
    """A millisecond timestamp as local ISO time (what a person reads in a table)."""
    if not isinstance(ms, int):
        return _cell(ms)
    return dt.datetime.fromtimestamp(ms / 1000).isoformat(sep=" ", timespec="seconds")


def show(
    rows: Iterable[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    as_json: bool,
    times: Sequence[str] = (),
) -> None:
    """Print ``rows`` as a table of ``(field, header)`` columns, or as a JSON list."""
    items = list(rows)
    if as_json:
        echo_json(items)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for _, header in columns:
        table.add_column(header, overflow="fold")
    for item in items:
        table.add_row(
            *(
                format_time(item.get(field)) if field in times else _cell(item.get(field))
                for field, _ in columns
            )
        )
    console = Console()
    if not console.is_terminal:
        # Piped into grep or a file: keep each row on one line instead of folding at 80 columns.
        console = Console(width=10_000)
    console.print(table)


def show_one(item: dict[str, Any] | None, *, as_json: bool) -> None:
    """Print one object as ``field: value`` lines, or as JSON."""
    if as_json:
        echo_json(item)
        return
    if not item:
        return
    width = max(len(k) for k in item)
    for key, value in item.items():
        is_time = key.endswith(("_time", "_timestamp"))
        shown = format_time(value) if is_time else _cell(value)
        click.echo(f"{key.ljust(width)}  {shown}")
