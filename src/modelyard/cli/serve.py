"""``modelyard server``: serve the API (on the embedded PostgreSQL unless a URL is given)."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path
from typing import Any

import click

from modelyard.cli._common import option
from modelyard.cli._globals import global_options
from modelyard.cli.worker import webhook_options, with_webhook_settings
from modelyard.database import open_database
from modelyard.settings import Settings


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def auth_enabled(host: str, flag: bool | None) -> bool:
    """``--auth``/``--no-auth`` as given; unset, on unless the server listens on loopback only."""
    return flag if flag is not None else not is_loopback(host)


def auth_notice(host: str, auth: bool) -> str:
    """The line the server prints at start about authentication."""
    if auth:
        return "authentication is on: requests need a token (modelyard tokens create)"
    if is_loopback(host):
        return f"authentication is off ({host} is loopback only); --auth turns it on"
    return (
        f"WARNING: authentication is OFF on {host}: anyone who reaches this port can read, "
        "change and delete everything (--no-auth was given)"
    )


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
    "--request-timeout",
    envvar="MODELYARD_REQUEST_TIMEOUT",
    default=30.0,
    type=click.FloatRange(0.1, 3600),
    help="Seconds an API request may take (a hung database included) before it answers 504; "
    "artifact streams have no deadline.",
)
@option(
    "--webhook-dispatcher/--no-webhook-dispatcher",
    envvar="MODELYARD_WEBHOOK_DISPATCHER",
    default=True,
    help="Deliver webhooks in this server; turn off when `modelyard worker` processes do.",
)
@option(
    "--auth/--no-auth",
    envvar="MODELYARD_AUTH",
    default=None,
    show_default="on when --host is not a loopback address",
    help="Require an API token (Authorization: Bearer) on every request but /health and /ready.",
)
@option(
    "--allow-rls-bypass",
    envvar="MODELYARD_ALLOW_RLS_BYPASS",
    is_flag=True,
    default=False,
    help="With --auth, serve even when the --database-url role is a superuser, has BYPASSRLS "
    "or owns the tables (row-level security then does not isolate workspaces).",
)
@option(
    "--metrics-auth/--no-metrics-auth",
    envvar="MODELYARD_METRICS_AUTH",
    default=False,
    help="With --auth, /metrics needs a server admin's token too.",
)
@option(
    "--admin-user",
    envvar="MODELYARD_ADMIN_USER",
    default=None,
    help="Unattended installs: make this user the first server admin at start, unless a "
    "server admin exists already; needs --admin-token-file.",
)
@option(
    "--admin-token-file",
    envvar="MODELYARD_ADMIN_TOKEN_FILE",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the first admin's token is written (created 0600, never overwritten).",
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
    request_timeout: float,
    webhook_dispatcher: bool,
    auth: bool | None,
    allow_rls_bypass: bool,
    metrics_auth: bool,
    admin_user: str | None,
    admin_token_file: Path | None,
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
        request_timeout=request_timeout,
        prepared_statements=prepared_statements,
        webhook_dispatcher=webhook_dispatcher,
        auth=auth_enabled(host, auth),
        allow_rls_bypass=allow_rls_bypass,
        metrics_auth=metrics_auth,
    )
    settings = with_webhook_settings(settings, webhook_values)
    if admin_user is not None and admin_token_file is None:
        raise click.UsageError("--admin-user needs --admin-token-file (MODELYARD_ADMIN_TOKEN_FILE)")
    with open_database(settings, for_serving=True) as dsn:
        if admin_user is not None and admin_token_file is not None:
            # As the owner where modelyard knows it (embedded): like `modelyard users create`.
            with open_database(settings) as owner_dsn:
                _first_admin(owner_dsn, settings.schema, admin_user, admin_token_file)
        click.echo(f"modelyard serving on http://{host}:{port} ({workers} worker(s))", err=True)
        click.echo(auth_notice(host, settings.auth), err=True)
        serve(settings, dsn)


def _first_admin(dsn: str, schema: str, name: str, token_file: Path) -> None:
    from modelyard.auth import admin

    with admin.connect(dsn, schema) as conn:
        made = admin.ensure_first_admin(conn, name, token_file)
    if made:
        click.echo(f"first server admin {name} created; its token is in {token_file}", err=True)
