"""``modelyard webhooks``: webhooks, their deliveries, dead letters and redelivery."""

from __future__ import annotations

import click

from modelyard.cli._common import option, url_option
from modelyard.cli._output import json_option, show, show_one
from modelyard.client.webhooks import WebhooksClient
from modelyard.webhooks.events import EVENTS

WEBHOOK_COLUMNS = [
    ("webhook_id", "ID"),
    ("name", "NAME"),
    ("url", "URL"),
    ("events", "EVENTS"),
    ("status", "STATUS"),
]
DELIVERY_COLUMNS = [
    ("delivery_id", "DELIVERY"),
    ("webhook_id", "WEBHOOK"),
    ("event", "EVENT"),
    ("state", "STATE"),
    ("attempts", "ATTEMPTS"),
    ("last_response_code", "CODE"),
    ("last_error", "ERROR"),
]


def _client(ctx: click.Context, url: str) -> WebhooksClient:
    return ctx.with_resource(WebhooksClient(url))


def _events(values: tuple[str, ...]) -> list[str]:
    """``--events a,b --events c`` -> [a, b, c]; names are checked by the server."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _show_webhook(webhook: dict[str, object], as_json: bool) -> None:
    show_one(webhook, as_json=as_json)
    if not as_json and webhook.get("secret"):
        click.echo("The secret is shown once: store it where your receiver reads it.", err=True)


events_option = option(
    "--events",
    "events",
    multiple=True,
    help="Event names, comma-separated or repeated: " + ", ".join(EVENTS) + ".",
)


@click.group()
def webhooks() -> None:
    """Webhooks: registry and run events POSTed to a URL, in MLflow's format."""


@webhooks.command("create")
@click.argument("target_url", metavar="URL")
@events_option
@option("--secret", default=None, help="HMAC secret (16+ characters); generated when omitted.")
@option("--name", default=None, help="A name for the webhook (default: the URL).")
@option("--description", default=None)
@option("--disabled", is_flag=True, help="Create it DISABLED.")
@url_option
@json_option
@click.pass_context
def create_command(
    ctx: click.Context,
    target_url: str,
    events: tuple[str, ...],
    secret: str | None,
    name: str | None,
    description: str | None,
    disabled: bool,
    url: str,
    as_json: bool,
) -> None:
    """Create a webhook that POSTs EVENTS to URL (https; see docs/webhooks.md)."""
    if not events:
        raise click.UsageError("--events is required")
    created = _client(ctx, url).create(
        target_url,
        _events(events),
        secret=secret,
        name=name,
        description=description,
        status="DISABLED" if disabled else None,
    )
    _show_webhook(created, as_json)


@webhooks.command("list")
@url_option
@json_option
@click.pass_context
def list_command(ctx: click.Context, url: str, as_json: bool) -> None:
    """List webhooks."""
    show(_client(ctx, url).list_webhooks(), WEBHOOK_COLUMNS, as_json=as_json)


@webhooks.command("show")
@click.argument("webhook_id")
@url_option
@json_option
@click.pass_context
def show_command(ctx: click.Context, webhook_id: str, url: str, as_json: bool) -> None:
    """Show a webhook (never its secret)."""
    show_one(_client(ctx, url).get(webhook_id), as_json=as_json)


@webhooks.command("update")
@click.argument("webhook_id")
@option("--target-url", default=None, help="A new URL for the webhook.")
@events_option
@option("--name", default=None)
@option("--description", default=None)
@option("--status", type=click.Choice(["ACTIVE", "DISABLED"]), default=None)
@option("--secret", default=None, help="Rotate to this secret.")
@option("--rotate-secret", is_flag=True, help="Rotate to a generated secret (shown once).")
@option(
    "--secret-overlap",
    type=click.IntRange(0, 30 * 86400),
    default=0,
    help="Seconds during which the old secret signs too (a second v1, entry).",
)
@url_option
@json_option
@click.pass_context
def update_command(
    ctx: click.Context,
    webhook_id: str,
    target_url: str | None,
    events: tuple[str, ...],
    name: str | None,
    description: str | None,
    status: str | None,
    secret: str | None,
    rotate_secret: bool,
    secret_overlap: int,
    url: str,
    as_json: bool,
) -> None:
    """Change a webhook; --secret or --rotate-secret rotate its secret."""
    client = _client(ctx, url)
    fields = {
        "url": target_url,
        "events": _events(events) or None,
        "name": name,
        "description": description,
        "status": status,
    }
    changes = {k: v for k, v in fields.items() if v is not None}
    result = client.update(webhook_id, **changes) if changes else None
    if secret is not None or rotate_secret:
        result = client.rotate_secret(webhook_id, secret, secret_overlap)
    if result is None:
        raise click.UsageError("nothing to change: give at least one option")
    _show_webhook(result, as_json)


@webhooks.command("delete")
@click.argument("webhook_id")
@url_option
@click.pass_context
def delete_command(ctx: click.Context, webhook_id: str, url: str) -> None:
    """Delete a webhook with its queued deliveries."""
    _client(ctx, url).delete(webhook_id)
    click.echo(f"deleted webhook {webhook_id}", err=True)


@webhooks.command("test")
@click.argument("webhook_id")
@option("--event", default=None, help="Which event's sample to send (default: the first).")
@url_option
@json_option
@click.pass_context
def test_command(
    ctx: click.Context, webhook_id: str, event: str | None, url: str, as_json: bool
) -> None:
    """Send a sample event to the webhook now; fails when the receiver does not accept it."""
    result = _client(ctx, url).test(webhook_id, event)
    show_one(result, as_json=as_json)
    if not result.get("success"):
        raise click.ClickException(f"test delivery failed: {result.get('error_message')}")


@webhooks.command("deliveries")
@option("--webhook", "webhook_id", default=None, help="Only this webhook's deliveries.")
@option("--state", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@url_option
@json_option
@click.pass_context
def deliveries_command(
    ctx: click.Context, webhook_id: str | None, state: str | None, url: str, as_json: bool
) -> None:
    """List deliveries, newest event first."""
    items = _client(ctx, url).deliveries(webhook_id=webhook_id, state=state)
    show(items, DELIVERY_COLUMNS, as_json=as_json)


@webhooks.command("dead-letters")
@option("--webhook", "webhook_id", default=None, help="Only this webhook's dead letters.")
@url_option
@json_option
@click.pass_context
def dead_letters_command(
    ctx: click.Context, webhook_id: str | None, url: str, as_json: bool
) -> None:
    """List deliveries that ran out of retries (redeliver them with `redeliver`)."""
    items = _client(ctx, url).deliveries(webhook_id=webhook_id, state="dead")
    show(items, DELIVERY_COLUMNS, as_json=as_json)


@webhooks.command("redeliver")
@click.argument("delivery_id")
@url_option
@json_option
@click.pass_context
def redeliver_command(ctx: click.Context, delivery_id: str, url: str, as_json: bool) -> None:
    """Queue a dead delivery again, under the same delivery id."""
    show_one(_client(ctx, url).redeliver(delivery_id), as_json=as_json)
