"""``modelyard gc``: make old deletions final, drop expired receipts, free artifact bytes."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sys
from typing import Any

import click

from modelyard.artifacts.gc import Removed, StoreReport
from modelyard.cli._common import echo_json, option
from modelyard.cli._globals import global_options
from modelyard.cli._output import json_option
from modelyard.database import open_database
from modelyard.gc import GcReport, collect
from modelyard.progress import NoProgress, RichProgress
from modelyard.settings import Settings


@click.command("gc")
@global_options
@option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=30.0,
    help="Purge runs, experiments and logged models deleted more than this many days ago.",
)
@option(
    "--receipts-older-than",
    type=click.FloatRange(min=0),
    default=7.0,
    help="Drop idempotency receipts older than this many days (their TTL).",
)
@option(
    "--uploads-older-than",
    type=click.FloatRange(min=0),
    default=24.0,
    help="Remove partial artifact uploads untouched for this many hours (abandoned).",
)
@option("--dry-run", is_flag=True, help="Only show what would be removed, with sizes.")
@option("--quiet", "-q", is_flag=True, help="No progress bar.")
@json_option
@click.pass_obj
def gc_command(
    settings: Settings,
    older_than: float,
    receipts_older_than: float,
    uploads_older_than: float,
    dry_run: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Permanently remove runs, experiments and logged models deleted long ago (with their
    params, tags, metrics and artifacts), expired idempotency receipts, artifact blobs nothing
    references and abandoned partial uploads. Restoring them is impossible afterwards."""
    now = dt.datetime.now(dt.UTC)
    progress = NoProgress() if quiet or not sys.stderr.isatty() else RichProgress()
    with open_database(settings) as dsn:
        report = asyncio.run(
            collect(
                dsn,
                settings.schema,
                deleted_before=now - dt.timedelta(days=older_than),
                receipts_before=now - dt.timedelta(days=receipts_older_than),
                uploads_older_than=dt.timedelta(hours=uploads_older_than),
                artifact_store=settings.artifact_store,
                dry_run=dry_run,
                progress=progress,
            )
        )
    if as_json:
        echo_json(_as_json(report))
    else:
        _print(report)


def _total(items: list[Removed]) -> dict[str, Any]:
    return {"count": len(items), "bytes": sum(item.size for item in items)}


def _as_json(report: GcReport) -> dict[str, Any]:
    data = dataclasses.asdict(report)
    data["stores"] = [
        {
            "store_url": store.store_url,
            "blobs": {**_total(store.blobs), "items": [vars(b) for b in store.blobs]},
            "uploads": {**_total(store.uploads), "items": [vars(u) for u in store.uploads]},
        }
        for store in report.stores
    ]
    return data


def human_size(size: int) -> str:
    """Bytes as a person reads them: 0 B, 512 B, 1.5 KiB, 12.0 MiB, 2.0 GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _print(report: GcReport) -> None:
    verb = "would purge" if report.dry_run else "purged"
    click.echo(
        f"{verb} {report.runs} run(s), {report.experiments} experiment(s), "
        f"{report.logged_models} logged model(s), {report.receipts} idempotency receipt(s)"
    )
    if report.pinned_runs:
        click.echo(
            f"kept {report.pinned_runs} deleted run(s): model versions use their logged models"
        )
    for store in report.stores:
        _print_store(store, dry_run=report.dry_run)


def _print_store(store: StoreReport, *, dry_run: bool) -> None:
    verb = "would remove" if dry_run else "removed"
    blobs, uploads = _total(store.blobs), _total(store.uploads)
    click.echo(
        f"{store.store_url}: {verb} {blobs['count']} blob(s) ({human_size(blobs['bytes'])}), "
        f"{uploads['count']} partial upload(s) ({human_size(uploads['bytes'])})"
    )
    if dry_run:
        for item in [*store.blobs, *store.uploads]:
            click.echo(f"  {item.what}  {human_size(item.size)}")
