"""``modelyard models`` and ``modelyard versions``: the model registry from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from modelyard.cli._common import client_for, echo_json, option, url_option
from modelyard.cli._output import json_option, show, show_one
from modelyard.cli.tracking import _pairs

MODEL_COLUMNS = [
    ("name", "NAME"),
    ("description", "DESCRIPTION"),
    ("aliases", "ALIASES"),
    ("last_updated_timestamp", "UPDATED"),
]
VERSION_COLUMNS = [
    ("version", "VERSION"),
    ("current_stage", "STAGE"),
    ("aliases", "ALIASES"),
    ("run_id", "RUN"),
    ("source", "SOURCE"),
]


@click.group()
def models() -> None:
    """Registered models and their aliases."""


@models.command("list")
@option("--name-like", default=None, help="SQL LIKE pattern on the name.")
@option("--limit", type=click.IntRange(1), default=None)
@url_option
@json_option
@click.pass_context
def models_list(
    ctx: click.Context, name_like: str | None, limit: int | None, url: str, as_json: bool
) -> None:
    """List registered models."""
    items = client_for(ctx, url).list_models(name_like=name_like, limit=limit)
    show(items, MODEL_COLUMNS, as_json=as_json, times=["last_updated_timestamp"])


@models.command("show")
@click.argument("name")
@url_option
@json_option
@click.pass_context
def models_show(ctx: click.Context, name: str, url: str, as_json: bool) -> None:
    """Show a registered model."""
    model = client_for(ctx, url).get_model(name)
    show_one(model if as_json else _compact_versions(model), as_json=as_json)


def _compact_versions(model: dict[str, Any]) -> dict[str, Any]:
    """A model for reading: its latest version per stage as ``Stage=version`` pairs."""
    shown = dict(model)
    shown["latest_versions"] = {
        v["current_stage"]: v["version"] for v in model.get("latest_versions") or []
    }
    return shown


@models.command("create")
@click.argument("name")
@option("--description", default=None)
@option("--tag", "tags", multiple=True, metavar="KEY=VALUE")
@url_option
@json_option
@click.pass_context
def models_create(
    ctx: click.Context,
    name: str,
    description: str | None,
    tags: tuple[str, ...],
    url: str,
    as_json: bool,
) -> None:
    """Create a registered model."""
    created = client_for(ctx, url).create_model(name, description=description, tags=_pairs(tags))
    show_one(created, as_json=as_json)


@models.command("delete")
@click.argument("name")
@option("--yes", is_flag=True, help="Do not ask for confirmation.")
@url_option
@click.pass_context
def models_delete(ctx: click.Context, name: str, yes: bool, url: str) -> None:
    """Delete a registered model with all its versions (permanent).

    Asks first, unless --yes; without a terminal to ask on, refuses unless --yes.
    """
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(
                f"not deleting model {name!r}: no terminal to confirm on; pass --yes"
            )
        click.confirm(f"delete model {name!r} and all its versions?", abort=True, err=True)
    client_for(ctx, url).delete_model(name)
    click.echo(f"deleted model {name}")


@models.command("download")
@click.argument("uri")
@option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    help="Directory to write the model's files into (created if missing).",
)
@url_option
@json_option
@click.pass_context
def models_download(ctx: click.Context, uri: str, output: Path, url: str, as_json: bool) -> None:
    """Download the files of the model version URI (models:/NAME/VERSION, models:/NAME@ALIAS or
    models:/NAME/latest): the logged model it was registered from, every file sha256-checked."""
    written = client_for(ctx, url).download_model(uri, output)
    if as_json:
        echo_json([str(path) for path in written])
        return
    click.echo(f"downloaded {len(written)} files of {uri} to {output}")


@models.group("alias")
def alias() -> None:
    """Set, show and delete aliases (e.g. champion -> version 3)."""


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", type=click.IntRange(1))
@url_option
@click.pass_context
def alias_set(ctx: click.Context, name: str, alias_name: str, version: int, url: str) -> None:
    """Point ALIAS of model NAME at VERSION (moves it atomically if set)."""
    client_for(ctx, url).set_alias(name, alias_name, version)
    click.echo(f"{name}@{alias_name} -> version {version}")


@alias.command("show")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@url_option
@json_option
@click.pass_context
def alias_show(ctx: click.Context, name: str, alias_name: str, url: str, as_json: bool) -> None:
    """Show the version ALIAS points at."""
    show_one(client_for(ctx, url).get_version_by_alias(name, alias_name), as_json=as_json)


@alias.command("delete")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@url_option
@click.pass_context
def alias_delete(ctx: click.Context, name: str, alias_name: str, url: str) -> None:
    """Remove ALIAS from model NAME."""
    client_for(ctx, url).delete_alias(name, alias_name)
    click.echo(f"deleted alias {name}@{alias_name}")


@click.group()
def versions() -> None:
    """Model versions: register, list, show, stage."""


@versions.command("list")
@click.argument("name")
@option("--limit", type=click.IntRange(1), default=None)
@url_option
@json_option
@click.pass_context
def versions_list(
    ctx: click.Context, name: str, limit: int | None, url: str, as_json: bool
) -> None:
    """List the versions of model NAME."""
    show(client_for(ctx, url).list_versions(name, limit=limit), VERSION_COLUMNS, as_json=as_json)


@versions.command("show")
@click.argument("name")
@click.argument("version", type=click.IntRange(1))
@url_option
@json_option
@click.pass_context
def versions_show(ctx: click.Context, name: str, version: int, url: str, as_json: bool) -> None:
    """Show one version."""
    show_one(client_for(ctx, url).get_version(name, version), as_json=as_json)


@versions.command("create")
@click.argument("name")
@option(
    "--source",
    required=True,
    help="Where the model's files are, inside the server's artifacts: runs:/RUN_ID/PATH, "
    "models:/m-ID, or a URL inside its --artifact-store (anything else is refused).",
)
@option("--run-id", default=None, help="The run that produced it.")
@option("--description", default=None)
@option("--tag", "tags", multiple=True, metavar="KEY=VALUE")
@url_option
@json_option
@click.pass_context
def versions_create(
    ctx: click.Context,
    name: str,
    source: str,
    run_id: str | None,
    description: str | None,
    tags: tuple[str, ...],
    url: str,
    as_json: bool,
) -> None:
    """Register a new version of model NAME (the model is created if missing)."""
    created = client_for(ctx, url).register_version(
        name, source, run_id=run_id, description=description, tags=_pairs(tags)
    )
    show_one(created, as_json=as_json)


@versions.command("stage")
@click.argument("name")
@click.argument("version", type=click.IntRange(1))
@click.argument("stage", type=click.Choice(["None", "Staging", "Production", "Archived"]))
@option("--archive-existing", is_flag=True, help="Archive other versions in STAGE.")
@url_option
@json_option
@click.pass_context
def versions_stage(
    ctx: click.Context,
    name: str,
    version: int,
    stage: str,
    archive_existing: bool,
    url: str,
    as_json: bool,
) -> None:
    """Move a version to a legacy stage."""
    moved = client_for(ctx, url).transition_stage(
        name, version, stage, archive_existing=archive_existing
    )
    show_one(moved, as_json=as_json)


@versions.command("search")
@click.argument("filter", required=False)
@option("--max-results", type=click.IntRange(1, 1000), default=100)
@url_option
@json_option
@click.pass_context
def versions_search(
    ctx: click.Context, filter: str | None, max_results: int, url: str, as_json: bool
) -> None:
    """Find model versions, e.g. "name = 'mnist' and tags.validated = 'yes'"."""
    found = client_for(ctx, url).search_versions(filter, max_results=max_results)
    show(found, [("name", "MODEL"), *VERSION_COLUMNS], as_json=as_json)
