"""What every CLI command shares: one-line errors, JSON output, tables."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import psycopg

from modelyard.errors import ModelyardError


class EnvOption(click.Option):
    """An option whose environment variable is always shown in ``--help``.

    Options without an explicit ``envvar`` get ``MODELYARD_<COMMAND>_<OPTION>`` from the root
    group's ``auto_envvar_prefix``; this makes that name visible too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_envvar", True)
        super().__init__(*args, **kwargs)


option = functools.partial(click.option, cls=EnvOption)


def run_command(group: click.Group, args: Sequence[str]) -> None:
    """Run the CLI, turning expected failures into one line on stderr and exit code 1."""
    try:
        group.main(args=list(args), prog_name="modelyard", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ModelyardError, psycopg.Error, OSError) as exc:
        if os.environ.get("MODELYARD_DEBUG"):
            raise
        message = exc.message if isinstance(exc, ModelyardError) else str(exc)
        first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        click.echo(f"error: {first}", err=True)
        sys.exit(1)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
