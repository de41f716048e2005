"""What every CLI command shares: one-line errors, JSON output, tables."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any

import click
import psycopg

from modelyard.client import Client
from modelyard.db.errors import cause_line
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

url_option = option(
    "--url",
    envvar="MODELYARD_URL",
    show_envvar=True,
    default="http://127.0.0.1:5000",
    help="URL of the modelyard server.",
)


def client_for(ctx: click.Context, url: str) -> Client:
    """A client of the server at ``url``, closed when the command ends."""
    return ctx.with_resource(Client(url))


def run_command(group: click.Group, args: Sequence[str]) -> None:
    """Run the CLI, turning expected failures into one line on stderr and exit code 1."""
    try:
        group.main(args=list(args), prog_name="modelyard", standalone_mode=False)
    except click.exceptions.Abort as exc:
        click.echo("aborted", err=True)
        # 130 is the shell's code for Ctrl-C; a "no" at a confirmation prompt is a plain failure.
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        sys.exit(130 if interrupted else 1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ModelyardError, psycopg.Error, OSError) as exc:
        if os.environ.get("MODELYARD_DEBUG"):
            raise
        message = exc.message if isinstance(exc, ModelyardError) else str(exc)
        first = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        # A typed error keeps the database's own words as its cause: the operator wants them.
        cause = cause_line(exc)
        if cause and cause not in first:
            first = f"{first} ({cause})"
        click.echo(f"error: {first}", err=True)
        sys.exit(1)


def _wire(data: Any) -> Any:
    """``data`` with non-finite floats spelt as the API spells them (JSON has no NaN)."""
    if isinstance(data, float) and not math.isfinite(data):
        return "NaN" if math.isnan(data) else ("Infinity" if data > 0 else "-Infinity")
    if isinstance(data, dict):
        return {key: _wire(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_wire(value) for value in data]
    return data


def echo_json(data: Any) -> None:
    """Print ``data`` as strict JSON (what ``jq`` and other parsers accept)."""
    click.echo(json.dumps(_wire(data), indent=2, default=str, allow_nan=False))
