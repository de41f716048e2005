"""``/webhooks`` and ``/webhook-deliveries``: webhooks, their deliveries, dead letters, redelivery.

Every URL is checked by :mod:`modelyard.webhooks.urls` when it is saved and when it is tested
(and again before each delivery): https only, and a host that resolves to public addresses only,
unless the server runs with ``--webhook-allow-private``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType
from starlette.requests import Request
from starlette.responses import Response

from modelyard import limits
from modelyard.auth.access import Access, access
from modelyard.server.api._request import no_content, path_str
from modelyard.server.api._routing import PAGE_TOKEN, ApiRoute, Query
from modelyard.server.api.schemas import Body
from modelyard.server.responses import JSON, decode
from modelyard.store.pagination import Page
from modelyard.store.webhook_deliveries import STATES, Delivery
from modelyard.store.webhooks import Webhook
from modelyard.webhooks.events import EVENTS, MAX_EVENTS
from modelyard.webhooks.service import TestResult, WebhookService
from modelyard.webhooks.urls import URL_PATTERN

EventName = Literal[EVENTS]  # type: ignore[valid-type]
Events = Annotated[list[EventName], Meta(min_length=1, max_length=MAX_EVENTS)]
Url = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=2048,
        pattern=URL_PATTERN,
        # What the host resolves to is checked against DNS when the URL is saved: a format,
        # not a pattern, says "a URL this server may call" (docs/api.md, Webhooks).
        extra_json_schema={"format": "webhook-url"},
        description="https only (http with --webhook-allow-private); the host must resolve to "
        "public addresses only, no user name or password, no numeric host spellings "
        "other than dotted-quad IPv4 and IPv6",
    ),
]
Name = Annotated[str, Meta(min_length=1, max_length=256)]
Secret = Annotated[str, Meta(min_length=16, max_length=256)]
Description = Annotated[str, Meta(max_length=5000)]
Status = Literal["ACTIVE", "DISABLED"]
OverlapSeconds = Annotated[int, Meta(ge=0, le=30 * 86400)]


class CreateWebhook(Body):
    """Without ``secret`` a secret is generated and returned in this answer only."""

    url: Url
    events: Events
    name: Name | None = None
    description: Description | None = None
    status: Status = "ACTIVE"
    secret: Secret | None = None


class UpdateWebhook(Body):
    """Fields to change; ``"description": null`` clears it. Secrets change through ``/secret``."""

    url: Url | UnsetType = UNSET
    events: Events | UnsetType = UNSET
    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET
    status: Status | UnsetType = UNSET


class RotateSecret(Body):
    """A new secret (generated and shown once when absent); during ``overlap_seconds`` the old
    one signs too, as a second ``v1,`` entry of X-MLflow-Signature."""

    secret: Secret | None = None
    overlap_seconds: OverlapSeconds = 0


class TestWebhook(Body):
    event: EventName | None = None


LIMIT = Query("limit", "Page size.", kind=int, default=100, minimum=1, maximum=1000)
STATE = Query("state", "Only deliveries in this state (dead: the dead letters).", choices=STATES)
WEBHOOK = Query("webhook_id", "Only deliveries of this webhook.", rule=limits.UUID_SCHEMA)


def service(request: Request) -> WebhookService:
    found: WebhookService = request.app.state.webhooks
    return found


@access(Access.MANAGE)
async def create_webhook(request: Request) -> Response:
    body = await decode(request, CreateWebhook)
    created = await service(request).create(
        url=body.url,
        events=list(body.events),
        name=body.name,
        description=body.description,
        status=body.status,
        secret=body.secret,
    )
    return JSON(created, status_code=201)


@access(Access.MANAGE)
async def list_webhooks(request: Request) -> Response:
    page = await service(request).webhooks.list(
        limit=LIMIT.parse(request), page_token=PAGE_TOKEN.parse(request)
    )
    return JSON(page)


@access(Access.MANAGE)
async def get_webhook(request: Request) -> Response:
    return JSON(await service(request).webhooks.get(path_str(request, "webhook_id")))


@access(Access.MANAGE)
async def update_webhook(request: Request) -> Response:
    body = await decode(request, UpdateWebhook)
    updated = await service(request).update(
        path_str(request, "webhook_id"),
        url=body.url if isinstance(body.url, str) else None,
        events=list(body.events) if isinstance(body.events, list) else None,
        name=body.name if isinstance(body.name, str) else None,
        description=body.description,
        status=body.status if isinstance(body.status, str) else None,
    )
    return JSON(updated)


@access(Access.MANAGE)
async def delete_webhook(request: Request) -> Response:
    await service(request).webhooks.delete(path_str(request, "webhook_id"))
    return no_content()


@access(Access.MANAGE)
async def rotate_secret(request: Request) -> Response:
    body = await decode(request, RotateSecret)
    rotated = await service(request).rotate_secret(
        path_str(request, "webhook_id"), secret=body.secret, overlap_seconds=body.overlap_seconds
    )
    return JSON(rotated)


@access(Access.MANAGE)
async def test_webhook(request: Request) -> Response:
    body = await decode(request, TestWebhook)
    return JSON(await service(request).test(path_str(request, "webhook_id"), body.event))


@access(Access.MANAGE)
async def list_deliveries(request: Request) -> Response:
    page = await service(request).deliveries.list(
        webhook_id=WEBHOOK.parse(request),
        state=STATE.parse(request),
        limit=LIMIT.parse(request),
        page_token=PAGE_TOKEN.parse(request),
    )
    return JSON(page)


@access(Access.MANAGE)
async def get_delivery(request: Request) -> Response:
    return JSON(await service(request).deliveries.get(path_str(request, "delivery_id")))


@access(Access.MANAGE)
async def redeliver(request: Request) -> Response:
    return JSON(await service(request).deliveries.redeliver(path_str(request, "delivery_id")))


_ONE = "/webhooks/{webhook_id}"
_DELIVERY = "/webhook-deliveries/{delivery_id}"

# A URL of the documented form whose target this server may not call: the rules depend on
# --webhook-allow-private and on what the host resolves to, so they are a status, not a pattern.
URL_REFUSED = {
    "422": "UNSAFE_WEBHOOK_URL: the URL may not be called: plain http without "
    "--webhook-allow-private, or a host that is not a valid name, is spelt as a number, does not "
    "resolve, or is or resolves to a loopback, private, link-local, multicast or reserved address"
}

routes = [
    ApiRoute(
        "POST",
        "/webhooks",
        create_webhook,
        summary="Create a webhook (its generated secret is shown in this answer only)",
        status=201,
        body=CreateWebhook,
        response=Webhook,
        extra_statuses=URL_REFUSED,
    ),
    ApiRoute(
        "GET",
        "/webhooks",
        list_webhooks,
        summary="List webhooks in creation order",
        response=Page[Webhook],
        query=(LIMIT, PAGE_TOKEN),
    ),
    ApiRoute("GET", _ONE, get_webhook, summary="Get a webhook", response=Webhook),
    ApiRoute(
        "PATCH",
        _ONE,
        update_webhook,
        summary="Change a webhook's URL, events, name, description or status",
        body=UpdateWebhook,
        response=Webhook,
        extra_statuses=URL_REFUSED,
    ),
    ApiRoute(
        "DELETE",
        _ONE,
        delete_webhook,
        summary="Delete a webhook with its deliveries",
        status=204,
    ),
    ApiRoute(
        "POST",
        _ONE + "/secret",
        rotate_secret,
        summary="Rotate the secret, optionally with an overlap during which both sign",
        body=RotateSecret,
        response=Webhook,
    ),
    ApiRoute(
        "POST",
        _ONE + "/test",
        test_webhook,
        summary="Send a sample event now; the receiver's body is not returned",
        body=TestWebhook,
        response=TestResult,
        extra_statuses=URL_REFUSED,
    ),
    ApiRoute(
        "GET",
        "/webhook-deliveries",
        list_deliveries,
        summary="List deliveries, newest event first (state=dead: the dead letters)",
        response=Page[Delivery],
        query=(WEBHOOK, STATE, LIMIT, PAGE_TOKEN),
    ),
    ApiRoute(
        "GET",
        _DELIVERY,
        get_delivery,
        summary="Get a delivery with its attempt log",
        response=Delivery,
    ),
    ApiRoute(
        "POST",
        _DELIVERY + "/redeliver",
        redeliver,
        summary="Queue a dead delivery again, under the same delivery id",
        response=Delivery,
    ),
]
