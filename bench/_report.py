"""The results table: printed, saved as JSON, and rendered into BENCHMARKS.md."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARK_START = "<!-- bench:results:start -->"
MARK_END = "<!-- bench:results:end -->"


@dataclass(frozen=True)
class Row:
    """One line of the table: where its figure sits in a result, and how to read it."""

    label: str
    path: tuple[str, ...]  # keys into one system's result
    unit: str  # "pts/s" (higher is better) or "ms" (lower is better)
    target: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.unit == "pts/s"


def rows(threads: list[int], runs: int, points: int) -> list[Row]:
    out = [
        Row(
            f"ingest, {t} client thread{'s' if t > 1 else ''}",
            ("ingest", str(t), "points_per_second"),
            "pts/s",
            ">= 200,000" if t == max(threads) else "",
        )
        for t in threads
    ]
    return [
        *out,
        Row(
            f"search {runs:,} runs, filtered + ordered, p50",
            ("search_filtered", "p50"),
            "ms",
            "<= 25",
        ),
        Row("  ... p95", ("search_filtered", "p95"), "ms"),
        Row("search, default order, p50", ("search_default", "p50"), "ms"),
        Row("  ... p95", ("search_default", "p95"), "ms"),
        Row(f"metric history, {points:,} points, p50", ("history", "p50"), "ms", "<= 100"),
        Row("  ... p95", ("history", "p95"), "ms"),
        Row("alias resolution, p50", ("alias", "p50"), "ms", "<= 2"),
        Row("  ... p95", ("alias", "p95"), "ms"),
        Row("GET /health, p50 (HTTP floor)", ("ping", "p50"), "ms"),
    ]


def _get(result: dict[str, Any] | None, path: tuple[str, ...]) -> float | None:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "pts/s":
        return f"{value:,.0f}"
    return f"{value:,.1f}" if value >= 10 else f"{value:.2f}"


def speedup(row: Row, mine: float | None, theirs: float | None) -> str:
    if not mine or not theirs:
        return "-"
    ratio = mine / theirs if row.higher_is_better else theirs / mine
    return f"{ratio:,.1f}x" if ratio >= 10 else f"{ratio:.2f}x"


def table_lines(results: dict[str, Any]) -> Iterator[str]:
    """Markdown tables, one per worker count."""
    meta = results["meta"]
    table_rows = rows(meta["ingest_threads"], meta["runs"], meta["points"])
    for workers in meta["workers"]:
        mine = results["results"].get(f"modelyard/{workers}")
        theirs = results["results"].get(f"mlflow/{workers}")
        yield f"#### {workers} server worker{'s' if workers > 1 else ''}"
        yield ""
        yield "| measure | unit | target | modelyard | MLflow | modelyard speedup |"
        yield "|---|---|---|--:|--:|--:|"
        for row in table_rows:
            a, b = _get(mine, row.path), _get(theirs, row.path)
            yield (
                f"| {row.label} | {row.unit} | {row.target} | {_fmt(a, row.unit)} "
                f"| {_fmt(b, row.unit)} | {speedup(row, a, b)} |"
            )
        yield ""


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    mlflow = meta.get("mlflow") or "skipped (not installed)"
    lines = [
        MARK_START,
        f"Run on {meta['date']}: `{meta['command']}`",
        "",
        f"- machine: {meta['nproc']} CPUs ({meta['cpu']}), {meta['memory_gb']} GB RAM, "
        f"load average before the run {meta['loadavg_before']}",
        f"- PostgreSQL {meta['postgres']} (embedded, one server for both systems; "
        + ", ".join(f"{k}={v}" for k, v in meta["postgres_settings"].items())
        + ")",
        f"- modelyard {meta['modelyard']} (Python {meta['python']}); MLflow {mlflow}",
        f"- data: {meta['runs']:,} runs in the searched experiment, a {meta['points']:,}-point "
        f"history; ingest {meta['ingest_seconds']:g} s per thread count; "
        f"same search results from both: {meta.get('same_results', 'n/a')}",
        "",
        *table_lines(results),
        MARK_END,
    ]
    return "\n".join(lines)


def update_markdown(path: Path, results: dict[str, Any]) -> None:
    """Replace the generated block of ``path`` (the prose around it is written by hand)."""
    block = render(results)
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{MARK_START}\n{MARK_END}\n"
    pattern = re.compile(re.escape(MARK_START) + ".*?" + re.escape(MARK_END), re.DOTALL)
    if not pattern.search(text):
        text = text.rstrip() + "\n\n" + MARK_START + "\n" + MARK_END + "\n"
    path.write_text(pattern.sub(lambda _: block, text, count=1))


def print_table(results: dict[str, Any]) -> None:
    for line in table_lines(results):
        print(line)
