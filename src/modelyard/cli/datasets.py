"""``modelyard datasets``: datasets and their versions from a terminal."""

from __future__ import annotations

from typing import Any

import click

from modelyard.cli._common import client_for, echo_json, option, url_option
from modelyard.cli._output import json_option, show, show_one

DATASET_COLUMNS = [
    ("name", "NAME"),
    ("version_count", "VERSIONS"),
    ("last_updated_timestamp", "UPDATED"),
]
VERSION_COLUMNS = [
    ("digest", "DIGEST"),
    ("row_count", "ROWS"),
    ("source", "SOURCE"),
    ("creation_timestamp", "CREATED"),
]


@click.group()
def datasets() -> None:
    """Datasets and their versions (identified by content digest)."""


@datasets.command("list")
@option("--name-like", default=None, help="SQL LIKE pattern on the name.")
@option("--limit", type=click.IntRange(1), default=None, help="Show at most N.")
@url_option
@json_option
@click.pass_context
def datasets_list(
    ctx: click.Context, name_like: str | None, limit: int | None, url: str, as_json: bool
) -> None:
    """List datasets."""
    items = client_for(ctx, url).list_datasets(name_like=name_like, limit=limit)
    show(items, DATASET_COLUMNS, as_json=as_json, times=["last_updated_timestamp"])


@datasets.command("show")
@click.argument("name")
@option("--digest", default=None, help="Show this version (schema and profile included).")
@option("--limit", type=click.IntRange(1), default=20, help="Show at most N versions.")
@url_option
@json_option
@click.pass_context
def datasets_show(
    ctx: click.Context, name: str, digest: str | None, limit: int, url: str, as_json: bool
) -> None:
    """Show dataset NAME and its newest versions, or one version with --digest."""
    client = client_for(ctx, url)
    if digest is not None:
        show_one(client.get_dataset_version(name, digest), as_json=as_json)
        return
    dataset: dict[str, Any] = client.get_dataset(name)
    versions = list(client.list_dataset_versions(name, limit=limit))
    if as_json:
        echo_json({**dataset, "versions": versions})
        return
    show_one(dataset, as_json=False)
    click.echo()
    show(versions, VERSION_COLUMNS, as_json=False, times=["creation_timestamp"])
