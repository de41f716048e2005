"""``modelyard server``: serve the API (on the embedded PostgreSQL unless a URL is given)."""

from __future__ import annotations

import dataclasses
from typing import Any

import click

from modelyard.cli._common import option
from modelyard.cli._globals import global_options
from modelyard.cli.worker import webhook_options, with_webhook_settings
from modelyard.database import open_database
from modelyard.settings import Settings


@click.command()
@global_options
@option("--host", envvar="MODELYARD_HOST", show_envvar=True, default="127.0.0.1")
@option("--port", envvar="MODELYARD_PORT", show_envvar=True, default=5000, type=int)
@option(
    "--workers",
    envvar="MODELYARD_WORKERS",
    show_envvar=True,
    default=1,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@option(
    "--pool-size",
    envvar="MODELYARD_POOL_SIZE",
    show_envvar=True,
    default=10,
    type=click.IntRange(1, 1000),
    help="Database connections per worker, at most.",
)
@option(
    "--prepared-statements/--no-prepared-statements",
    envvar="MODELYARD_PREPARED_STATEMENTS",
    default=True,
    help="Let the driver prepare frequent queries; turn off behind PgBouncer < 1.21 "
    "in transaction mode.",
)
@option(
    "--max-body-mb",
    envvar="MODELYARD_MAX_BODY_MB",
    default=64,
    type=click.IntRange(1, 4096),
    help="Largest request body accepted, in MiB (a 100,000-point batch is about 5 MiB).",
)
@option(
    "--max-artifact-mb",
    envvar="MODELYARD_MAX_ARTIFACT_MB",
    default=20480,
    type=click.IntRange(1),
    help="Largest artifact file accepted, in MiB (uploads are streamed, never held in memory).",
)
@option(
    "--webhook-dispatcher/--no-webhook-dispatcher",
    envvar="MODELYARD_WEBHOOK_DISPATCHER",
    default=True,
    help="Deliver webhooks in this server; turn off when `modelyard worker` processes do.",
)
@webhook_options
@click.pass_obj
def server(
    settings: Settings,
    /,
    host: str,
    port: int,
    workers: int,
    pool_size: int,
    prepared_statements: bool,
    max_body_mb: int,
    max_artifact_mb: int,
    webhook_dispatcher: bool,
    **webhook_values: Any,
) -> None:
    """Run the modelyard server until interrupted."""
    # Imported here: uvicorn and starlette would slow every other command's start-up.
    from modelyard.server.runner import serve

    settings = dataclasses.replace(
        settings,
        host=host,
        port=port,
        workers=workers,
        pool_max_size=pool_size,
        pool_min_size=min(2, pool_size),
        max_body_bytes=max_body_mb * 1024 * 1024,
        max_artifact_bytes=max_artifact_mb * 1024 * 1024,
        prepared_statements=prepared_statements,
        webhook_dispatcher=webhook_dispatcher,
    )
    settings = with_webhook_settings(settings, webhook_values)
    with open_database(settings, for_serving=True) as dsn:
        click.echo(f"modelyard serving on http://{host}:{port} ({workers} worker(s))", err=True)
        serve(settings, dsn)
