"""The ``modelyard`` command line: global options, then one group per area.

Every option can also be set with the ``MODELYARD_*`` variable shown in ``--help``. Failures print
one line on stderr and exit non-zero; ``MODELYARD_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from modelyard import logs
from modelyard.cli._common import option, run_command
from modelyard.cli.backup import backup_command, restore_command
from modelyard.cli.database import db
from modelyard.cli.datasets import datasets
from modelyard.cli.gc import gc_command
from modelyard.cli.registry import models, versions
from modelyard.cli.serve import server
from modelyard.cli.tracking import experiments, runs
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.settings import Settings, default_data_dir


@click.group(context_settings={"auto_envvar_prefix": "MODELYARD", "show_default": True})
@option(
    "--database-url",
    envvar="MODELYARD_DATABASE_URL",
    show_envvar=True,
    help="PostgreSQL URL; without it modelyard runs its embedded PostgreSQL.",
)
@option(
    "--data-dir",
    envvar="MODELYARD_DATA_DIR",
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    default=default_data_dir,
    show_default="$XDG_DATA_HOME/modelyard, else ~/.local/share/modelyard",
    help="Directory of the embedded PostgreSQL and local data.",
)
@option(
    "--pg-user",
    envvar="MODELYARD_PG_USER",
    default=None,
    help="As root without user namespaces: the existing account that runs embedded PostgreSQL.",
)
@option(
    "--schema",
    envvar="MODELYARD_SCHEMA",
    show_envvar=True,
    default=DEFAULT_SCHEMA,
    help="PostgreSQL schema holding modelyard's tables.",
)
@option(
    "--log-level",
    envvar="MODELYARD_LOG_LEVEL",
    show_envvar=True,
    default="warning",
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log level (JSON lines on stderr).",
)
@click.version_option(package_name="modelyard")
@click.pass_context
def cli(
    ctx: click.Context,
    database_url: str | None,
    data_dir: Path,
    pg_user: str | None,
    schema: str,
    log_level: str,
) -> None:
    """modelyard: ML experiment tracking and model registry on PostgreSQL."""
    logs.configure(log_level)
    ctx.obj = Settings(
        database_url=database_url or None,
        data_dir=data_dir,
        pg_user=pg_user or None,
        schema=schema,
        log_level=log_level,
    )


for command in (
    db,
    server,
    experiments,
    runs,
    models,
    versions,
    datasets,
    backup_command,
    restore_command,
    gc_command,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    run_command(cli, sys.argv[1:])
