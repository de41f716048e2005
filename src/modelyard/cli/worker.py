"""``modelyard worker`` and the webhook options it shares with ``modelyard server``."""

from __future__ import annotations

import asyncio
import dataclasses
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import click

from modelyard.cli._common import option
from modelyard.cli._globals import global_options
from modelyard.database import open_database
from modelyard.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS: tuple[Callable[[F], F], ...] = (
    option(
        "--webhook-allow-private",
        envvar="MODELYARD_WEBHOOK_ALLOW_PRIVATE",
        is_flag=True,
        help="Allow plain http and loopback/private webhook receivers (local receivers, tests); "
        "link-local addresses such as 169.254.169.254 stay refused.",
    ),
    option(
        "--webhook-secret-key",
        envvar="MODELYARD_WEBHOOK_SECRET_KEY",
        default=None,
        show_default="the data directory's webhook-secret.key, made on first use",
        help="Fernet key that encrypts webhook secrets; every server and worker on one "
        "database needs the same key.",
    ),
    option(
        "--webhook-timeout",
        envvar="MODELYARD_WEBHOOK_TIMEOUT",
        type=click.FloatRange(0.1, 300),
        default=10.0,
        help="Seconds one delivery attempt may take, connect to last byte.",
    ),
    option(
        "--webhook-retry-horizon",
        envvar="MODELYARD_WEBHOOK_RETRY_HORIZON",
        type=click.FloatRange(0, 30 * 86400),
        default=24 * 3600.0,
        help="Seconds a delivery is retried before it is dead-lettered.",
    ),
    option(
        "--webhook-backoff",
        envvar="MODELYARD_WEBHOOK_BACKOFF",
        type=click.FloatRange(0.001, 3600),
        default=1.0,
        help="First retry delay in seconds; doubles per attempt (with jitter) up to 600 s.",
    ),
    option(
        "--webhook-concurrency",
        envvar="MODELYARD_WEBHOOK_CONCURRENCY",
        type=click.IntRange(1, 1024),
        default=16,
        help="Deliveries in flight at once (one per webhook, so one slow receiver holds one).",
    ),
)

OPTION_NAMES = (
    "webhook_allow_private",
    "webhook_secret_key",
    "webhook_timeout",
    "webhook_retry_horizon",
    "webhook_backoff",
    "webhook_concurrency",
)


def webhook_options(command: F) -> F:
    for decorate in reversed(_OPTIONS):
        command = decorate(command)
    return command


def with_webhook_settings(settings: Settings, values: dict[str, Any]) -> Settings:
    """``settings`` with the webhook options' values (popped from ``values``)."""
    return dataclasses.replace(
        settings,
        webhook_allow_private=values.pop("webhook_allow_private"),
        webhook_secret_key=values.pop("webhook_secret_key") or None,
        webhook_timeout=values.pop("webhook_timeout"),
        webhook_retry_horizon=values.pop("webhook_retry_horizon"),
        webhook_backoff_base=values.pop("webhook_backoff"),
        webhook_concurrency=values.pop("webhook_concurrency"),
    )


@click.command()
@global_options
@webhook_options
@click.pass_obj
def worker(settings: Settings, /, **values: Any) -> None:
    """Deliver webhooks without serving HTTP (run any number; see docs/webhooks.md)."""
    settings = with_webhook_settings(settings, values)
    with open_database(settings, for_serving=True) as dsn:
        click.echo("modelyard worker delivering webhooks", err=True)
        asyncio.run(_work(settings, dsn))


async def _work(settings: Settings, dsn: str) -> None:
    from modelyard.db.pool import open_pool
    from modelyard.webhooks.dispatcher import Dispatcher
    from modelyard.webhooks.service import WebhookService

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    pool = await open_pool(
        dsn,
        settings.schema,
        min_size=1,
        max_size=4,
        prepared_statements=settings.prepared_statements,
    )
    try:
        service = WebhookService(pool, settings)
        await Dispatcher(pool, service, dsn, settings).run(stop)
    finally:
        await pool.close()
