"""The ``modelyard`` command line: global options, then one group per area.

Every option can also be set with the ``MODELYARD_*`` variable shown in ``--help``. Failures print
one line on stderr and exit non-zero; ``MODELYARD_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from modelyard import logs
from modelyard.cli._common import run_command
from modelyard.cli._globals import add_global_options, settings_from
from modelyard.cli.artifacts import artifacts
from modelyard.cli.audit import audit_group
from modelyard.cli.backup import backup_command, restore_command
from modelyard.cli.database import db
from modelyard.cli.datasets import datasets
from modelyard.cli.gc import gc_command
from modelyard.cli.identities import members, tokens, users, workspaces
from modelyard.cli.lineage import lineage_command
from modelyard.cli.registry import models, versions
from modelyard.cli.serve import server
from modelyard.cli.tracking import experiments, runs
from modelyard.cli.webhooks import webhooks
from modelyard.cli.worker import worker


@click.group(context_settings={"auto_envvar_prefix": "MODELYARD", "show_default": True})
@add_global_options
@click.version_option(package_name="modelyard")
@click.pass_context
def cli(ctx: click.Context, /, **values: Any) -> None:
    """modelyard: ML experiment tracking and model registry on PostgreSQL.

    The global options below may also follow the command name: modelyard server --data-dir DIR.
    """
    logs.configure(values["log_level"])
    ctx.obj = settings_from(values)


for command in (
    db,
    server,
    experiments,
    runs,
    artifacts,
    models,
    versions,
    datasets,
    lineage_command,
    backup_command,
    restore_command,
    gc_command,
    webhooks,
    worker,
    workspaces,
    users,
    members,
    tokens,
    audit_group,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    run_command(cli, sys.argv[1:])
