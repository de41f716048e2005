"""``modelyard audit``: verify, list and prune the audit log, on the database.

Like ``db upgrade`` these connect to the database directly (the embedded PostgreSQL on
``--data-dir``, or ``--database-url``). ``prune`` needs the owner of the schema: the runtime role
may only add rows and read them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from modelyard import audit
from modelyard.auth import admin
from modelyard.cli._common import echo_json, option
from modelyard.cli._globals import global_options
from modelyard.cli._output import json_option, show
from modelyard.database import open_database
from modelyard.progress import NoProgress, RichProgress
from modelyard.settings import Settings

EVENT_COLUMNS = [
    ("occurred_at", "WHEN"),
    ("workspace", "WORKSPACE"),
    ("seq", "SEQ"),
    ("actor", "ACTOR"),
    ("action", "ACTION"),
    ("entity", "ENTITY"),
    ("object_key", "OBJECT"),
    ("client_addr", "FROM"),
    ("request_id", "REQUEST"),
]


@contextmanager
def _database(settings: Settings, *, snapshot: bool = False) -> Iterator[admin.Conn]:
    # Not for serving: the log is read and pruned as it is, by the owner (across workspaces).
    with (
        open_database(settings) as dsn,
        admin.connect(dsn, settings.schema, snapshot=snapshot) as c,
    ):
        yield c


def _instant(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date or time like 2026-01-31") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@click.group("audit")
def audit_group() -> None:
    """The audit log: who changed what, and which requests were refused."""


@audit_group.command("verify")
@option("--quiet", "-q", is_flag=True, help="No progress bar.")
@global_options
@json_option
@click.pass_obj
def verify_command(settings: Settings, quiet: bool, as_json: bool) -> None:
    """Walk every workspace's hash chain; report the first broken link of each and exit 1 if
    any is broken (a row deleted or edited)."""
    progress = NoProgress() if quiet or as_json or not sys.stderr.isatty() else RichProgress()
    with _database(settings, snapshot=True) as conn:
        reports = audit.verify(conn, progress)
    broken = [r for r in reports if r.broken is not None]
    if as_json:
        echo_json({"ok": not broken, "chains": [dataclasses.asdict(r) for r in reports]})
    else:
        for report in reports:
            state = "ok" if report.broken is None else "BROKEN"
            click.echo(f"workspace {report.workspace_id}: {report.rows} row(s), {state}")
            if report.broken is not None:
                click.echo(
                    f"  first broken link at row {report.broken.seq}: {report.broken.problem}"
                )
    if broken:
        raise SystemExit(1)


@audit_group.command("list")
@option("--workspace", default=None, help="Only this workspace's rows ('' for workspace-less).")
@option("--actor", default=None, help="Only this actor's rows (a user, or db:<role>).")
@option("--entity", default=None, help="Only this entity (a table name, or request).")
@option("--action", type=click.Choice(audit.ACTIONS), default=None, help="Only this action.")
@option("--since", default=None, help="Only rows at or after this ISO time (UTC if no zone).")
@option("--until", default=None, help="Only rows before this ISO time (UTC if no zone).")
@option("--limit", type=click.IntRange(1, 100_000), default=100, help="At most this many rows.")
@global_options
@json_option
@click.pass_obj
def list_command(settings: Settings, /, as_json: bool, **filters: Any) -> None:
    """List audit rows, newest first."""
    since, until = _instant(filters.pop("since")), _instant(filters.pop("until"))
    with _database(settings) as conn:
        rows = audit.list_events(conn, since=since, until=until, **filters)
    show(rows, EVENT_COLUMNS, as_json=as_json)


@audit_group.command("prune")
@option("--before", required=True, metavar="YYYY-MM", help="Drop the months before this one.")
@global_options
@json_option
@click.pass_obj
def prune_command(settings: Settings, before: str, as_json: bool) -> None:
    """Drop whole months of the log (retention); the chains that remain still verify. Needs
    the owner of the schema."""
    start = audit.parse_month(before)
    with _database(settings) as conn:
        dropped = audit.prune(conn, start)
    if as_json:
        echo_json({"dropped": dropped})
    elif dropped:
        for name in dropped:
            click.echo(f"dropped {name}")
    else:
        click.echo("nothing to drop")
