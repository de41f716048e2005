"""``modelyard server``: serve the API (on the embedded PostgreSQL unless a URL is given)."""

from __future__ import annotations

import dataclasses

import click
import uvicorn

from modelyard.database import open_database
from modelyard.server import create_app
from modelyard.settings import Settings


@click.command()
@click.option("--host", envvar="MODELYARD_HOST", show_envvar=True, default="127.0.0.1")
@click.option("--port", envvar="MODELYARD_PORT", show_envvar=True, default=5000, type=int)
@click.option(
    "--workers",
    envvar="MODELYARD_WORKERS",
    show_envvar=True,
    default=1,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@click.pass_obj
def server(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run the modelyard server until interrupted."""
    settings = dataclasses.replace(settings, host=host, port=port, workers=workers)
    with open_database(settings, apply_schema=True) as dsn:
        app = create_app(settings, dsn)
        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        click.echo(f"modelyard serving on http://{host}:{port}", err=True)
        uvicorn.Server(config).run()
