"""The global options, accepted before the subcommand and after it.

``modelyard --data-dir X server`` and ``modelyard server --data-dir X`` mean the same: the root
group and every command that uses these options declare them from the one list below. A value
typed after the subcommand wins over one typed before it; the environment variable and the
default are resolved once, by the root group, so they can never override a typed flag.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from modelyard import logs
from modelyard.artifacts.location import DEFAULT_STORE_URL, parse_store_url
from modelyard.cli._common import option
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.errors import InvalidInput
from modelyard.settings import Settings, default_data_dir

F = TypeVar("F", bound=Callable[..., Any])


def _store_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The store URL normalised, or a usage error naming the three accepted forms."""
    if value is None:
        return None
    try:
        return parse_store_url(value).url
    except InvalidInput as exc:
        raise click.BadParameter(exc.message, ctx=ctx, param=param) from None


_OPTIONS: tuple[Callable[[F], F], ...] = (
    option(
        "--database-url",
        envvar="MODELYARD_DATABASE_URL",
        show_envvar=True,
        help="PostgreSQL URL; without it modelyard runs its embedded PostgreSQL.",
    ),
    option(
        "--data-dir",
        envvar="MODELYARD_DATA_DIR",
        show_envvar=True,
        type=click.Path(file_okay=False, path_type=Path),
        default=default_data_dir,
        show_default="$XDG_DATA_HOME/modelyard, else ~/.local/share/modelyard",
        help="Directory of the embedded PostgreSQL and local data.",
    ),
    option(
        "--pg-user",
        envvar="MODELYARD_PG_USER",
        default=None,
        help="As root without user namespaces: the existing account that runs embedded PostgreSQL.",
    ),
    option(
        "--schema",
        envvar="MODELYARD_SCHEMA",
        show_envvar=True,
        default=DEFAULT_SCHEMA,
        help="PostgreSQL schema holding modelyard's tables.",
    ),
    option(
        "--log-level",
        envvar="MODELYARD_LOG_LEVEL",
        show_envvar=True,
        default="warning",
        type=click.Choice(["debug", "info", "warning", "error"]),
        help="Log level (JSON lines on stderr).",
    ),
    option(
        "--artifact-store",
        envvar="MODELYARD_ARTIFACT_STORE",
        show_envvar=True,
        default=DEFAULT_STORE_URL,
        callback=_store_url,
        metavar="URL",
        help="Where artifacts live: postgresql (in the database), file:///dir or "
        "s3://bucket/prefix.",
    ),
)

NAMES = ("database_url", "data_dir", "pg_user", "schema", "log_level", "artifact_store")


def add_global_options(command: F) -> F:
    """Declare the global options on ``command`` (the root group, or a subcommand's callback)."""
    for decorate in reversed(_OPTIONS):
        command = decorate(command)
    return command


def settings_from(values: dict[str, Any]) -> Settings:
    """The settings the root group builds from its resolved option values."""
    return Settings(
        database_url=values["database_url"] or None,
        data_dir=values["data_dir"],
        pg_user=values["pg_user"] or None,
        schema=values["schema"],
        log_level=values["log_level"],
        artifact_store=values["artifact_store"],
    )


def global_options(command: F) -> F:
    """Accept the global options after a subcommand's name too (place below ``@click.command``).

    Values typed on the subcommand's own command line replace the root group's in ``ctx.obj``
    before the command (and its ``@click.pass_obj``) runs.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        typed = {}
        for name in NAMES:
            value = kwargs.pop(name)
            if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE:
                typed[name] = value
        for key in ("database_url", "pg_user"):
            if key in typed:
                typed[key] = typed[key] or None  # an empty value means "not set", as above
        if typed:
            if "log_level" in typed:
                logs.configure(typed["log_level"])
            ctx.obj = dataclasses.replace(ctx.obj, **typed)
        return command(*args, **kwargs)

    return add_global_options(wrapper)  # type: ignore[return-value]
