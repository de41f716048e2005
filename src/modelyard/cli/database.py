"""``modelyard db``: bootstrap, schema upgrade and status."""

from __future__ import annotations

import click

from modelyard.cli._common import echo_json, option
from modelyard.cli._globals import global_options
from modelyard.cli.bootstrap import db_bootstrap
from modelyard.database import open_database
from modelyard.db.migrate import status, upgrade
from modelyard.settings import Settings


@click.group()
def db() -> None:
    """Prepare the server, manage the database schema."""


db.add_command(db_bootstrap)


@db.command("upgrade")
@global_options
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Apply pending migrations (under an advisory lock; safe to run concurrently)."""
    with open_database(settings) as dsn:
        applied = upgrade(dsn, settings.schema)
        now = status(dsn, settings.schema)
    if applied:
        for migration in applied:
            click.echo(f"applied {migration.version:04d}_{migration.name}")
    else:
        click.echo("already up to date")
    click.echo(f"schema {settings.schema} at version {now.current}")


@db.command("status")
@global_options
@option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def db_status(settings: Settings, as_json: bool) -> None:
    """Show the applied and pending migrations; exit 1 when not up to date."""
    with open_database(settings) as dsn:
        report = status(dsn, settings.schema)
    if as_json:
        echo_json(
            {
                "schema": report.schema,
                "current": report.current,
                "latest": report.latest,
                "up_to_date": report.up_to_date,
                "pending": [f"{v:04d}_{n}" for v, n in report.pending],
                "modified": list(report.modified),
            }
        )
    else:
        click.echo(f"schema:  {report.schema}")
        click.echo(f"current: {report.current}")
        click.echo(f"latest:  {report.latest}")
        for version, name in report.pending:
            click.echo(f"pending: {version:04d}_{name}")
        for version in report.modified:
            click.echo(f"modified since applied: {version:04d}")
    if not report.up_to_date:
        raise SystemExit(1)
