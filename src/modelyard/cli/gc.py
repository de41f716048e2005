"""``modelyard gc``: make old deletions final and drop expired ingest receipts."""

from __future__ import annotations

import datetime as dt
import sys

import click

from modelyard.cli._common import option
from modelyard.cli._globals import global_options
from modelyard.database import open_database
from modelyard.gc import collect
from modelyard.progress import NoProgress, RichProgress
from modelyard.settings import Settings


@click.command("gc")
@global_options
@option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=30.0,
    help="Purge runs and experiments deleted more than this many days ago.",
)
@option(
    "--receipts-older-than",
    type=click.FloatRange(min=0),
    default=7.0,
    help="Drop metric idempotency receipts older than this many days.",
)
@option("--dry-run", is_flag=True, help="Only count what would be purged.")
@option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_obj
def gc_command(
    settings: Settings,
    older_than: float,
    receipts_older_than: float,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Permanently remove runs and experiments deleted long ago (with their params, tags and
    metrics) and old ingest receipts. Restoring them is impossible afterwards."""
    now = dt.datetime.now(dt.UTC)
    progress = NoProgress() if quiet or not sys.stderr.isatty() else RichProgress()
    with open_database(settings) as dsn:
        report = collect(
            dsn,
            settings.schema,
            deleted_before=now - dt.timedelta(days=older_than),
            receipts_before=now - dt.timedelta(days=receipts_older_than),
            dry_run=dry_run,
            progress=progress,
        )
    verb = "would purge" if report.dry_run else "purged"
    click.echo(
        f"{verb} {report.runs} run(s), {report.experiments} experiment(s), "
        f"{report.receipts} ingest receipt(s)"
    )
