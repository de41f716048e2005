"""``modelyard backup`` and ``modelyard restore``: one archive per backup, checked on restore."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelyard.backup import Manifest, backup, restore, verify
from modelyard.backup.restore import latest_schema_version
from modelyard.cli._common import option
from modelyard.cli._globals import global_options
from modelyard.database import open_database
from modelyard.progress import NoProgress, Progress, RichProgress
from modelyard.settings import Settings

_pg_bin = option(
    "--pg-bin",
    envvar="MODELYARD_PG_BIN",
    show_envvar=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory holding pg_dump/pg_restore of the server's major version "
    "(default: look in the usual places).",
)
_quiet = option("--quiet", "-q", is_flag=True, help="No progress bar.")
_file = click.argument("file", type=click.Path(dir_okay=False, path_type=Path))


def _progress(quiet: bool) -> Progress:
    return NoProgress() if quiet or not sys.stderr.isatty() else RichProgress()


def _summary(manifest: Manifest) -> str:
    return (
        f"schema {manifest.schema} version {manifest.schema_version}, "
        f"{len(manifest.tables)} tables, {manifest.total_rows} rows, "
        f"PostgreSQL {manifest.server_version}, taken {manifest.created_at}"
    )


@click.command("backup")
@global_options
@_file
@option("--verify", "verify_only", is_flag=True, help="Check FILE instead of writing it.")
@option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@_pg_bin
@_quiet
@click.pass_obj
def backup_command(
    settings: Settings, file: Path, verify_only: bool, force: bool, pg_bin: Path | None, quiet: bool
) -> None:
    """Write a consistent backup of the database to FILE (one archive), or check one with
    --verify (no database needed; exit 1 when anything is wrong)."""
    if verify_only:
        manifest = verify(file, pg_bin=pg_bin)
        click.echo(f"ok: {file}: {_summary(manifest)}")
        return
    with open_database(settings) as dsn:
        manifest = backup(
            dsn, settings.schema, file, _progress(quiet), pg_bin=pg_bin, overwrite=force
        )
    click.echo(f"wrote {file}: {_summary(manifest)}")


@click.command("restore")
@global_options
@_file
@option("--replace", is_flag=True, help="Drop the existing schema and restore in its place.")
@_pg_bin
@_quiet
@click.pass_obj
def restore_command(
    settings: Settings, file: Path, replace: bool, pg_bin: Path | None, quiet: bool
) -> None:
    """Restore the backup FILE: verified first, loaded and checked in one transaction.

    Refuses a schema that holds anything unless --replace. Stop modelyard servers first.
    file:// artifacts go back to the store they were backed up from, or, with a file://
    --artifact-store, to that store.
    """
    with open_database(settings) as dsn:
        manifest = restore(
            dsn,
            settings.schema,
            file,
            replace=replace,
            progress=_progress(quiet),
            pg_bin=pg_bin,
            artifact_store=settings.artifact_store,
        )
    click.echo(f"restored {file}: {_summary(manifest)}")
    latest = latest_schema_version()
    if manifest.schema_version < latest:
        click.echo(
            f"the restored schema is at version {manifest.schema_version}; run "
            f"`modelyard db upgrade` to bring it to {latest}"
        )
