"""MLflow 3's webhook routes: ``/api/2.0/mlflow/webhooks``, ``.../{id}``, ``.../{id}/test``.

The messages are those of MLflow's ``webhooks.proto`` in its JSON form: an event is
``{"entity": "MODEL_VERSION", "action": "CREATED"}`` (the enum names; their numbers are accepted
too), a status is ``"ACTIVE"`` or ``"DISABLED"``, timestamps are milliseconds. Everything goes
through :class:`~modelyard.webhooks.service.WebhookService`, as for ``/api/v1/webhooks``: the
same URL checks, encrypted secrets and dispatcher. What MLflow's messages cannot say is left
out: a webhook shows only its MLflow events here, and one with none is not listed (MLflow's
client refuses a webhook without events). The receiver's body is never echoed by a test.
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.errors import InvalidInput, NotFound
from modelyard.server.api._request import path_str
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require
from modelyard.store.webhooks import Webhook
from modelyard.webhooks.events import MLFLOW_EVENTS, split_event
from modelyard.webhooks.service import WebhookService
from modelyard.webhooks.signing import check_secret

# webhooks.proto's enums, by number, for clients that send numbers instead of names.
ENTITY_NUMBERS = {
    1: "REGISTERED_MODEL",
    2: "MODEL_VERSION",
    3: "MODEL_VERSION_TAG",
    4: "MODEL_VERSION_ALIAS",
    5: "PROMPT",
    6: "PROMPT_VERSION",
    7: "PROMPT_TAG",
    8: "PROMPT_VERSION_TAG",
    9: "PROMPT_ALIAS",
    10: "BUDGET_POLICY",
}
ACTION_NUMBERS = {1: "CREATED", 2: "UPDATED", 3: "DELETED", 4: "SET", 5: "EXCEEDED"}
STATUS_NUMBERS = {1: "ACTIVE", 2: "DISABLED"}
# MLflow events of registries modelyard does not have: refused rather than never delivered.
NOT_EMITTED = ("prompt", "prompt_version", "prompt_tag", "prompt_version_tag", "prompt_alias")
DEFAULT_MAX_RESULTS = 100
MAX_RESULTS = 1000


class MlflowEvent(msgspec.Struct):
    entity: str | int
    action: str | int


class CreateWebhook(msgspec.Struct):
    name: str | None = None
    url: str | None = None
    events: list[MlflowEvent] = []
    description: str | None = None
    secret: str | None = None
    status: str | int | None = None


class ListWebhooks(msgspec.Struct):
    max_results: int = DEFAULT_MAX_RESULTS
    page_token: str | None = None


class UpdateWebhook(msgspec.Struct):
    name: str | None = None
    description: str | None = None
    url: str | None = None
    events: list[MlflowEvent] | None = None
    secret: str | None = None
    status: str | int | None = None


class TestWebhook(msgspec.Struct):
    event: MlflowEvent | None = None


def _enum_name(value: str | int, numbers: dict[int, str], field: str) -> str:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int):
        if value not in numbers:
            raise InvalidInput(f"unknown {field} {value}", field=field)
        return numbers[value]
    return value.upper()


def event_name(event: MlflowEvent) -> str:
    """``{"entity": "MODEL_VERSION", "action": "CREATED"}`` as ``model_version.created``."""
    entity = _enum_name(event.entity, ENTITY_NUMBERS, "entity").lower()
    action = _enum_name(event.action, ACTION_NUMBERS, "action").lower()
    name = f"{entity}.{action}"
    if entity in NOT_EMITTED or entity == "budget_policy":
        raise InvalidInput(
            f"modelyard does not emit {name}: it has no prompt registry or AI gateway budgets",
            field="events",
        )
    if name not in MLFLOW_EVENTS:
        raise InvalidInput(
            f"invalid event {name}; MLflow's model registry events are: "
            + ", ".join(MLFLOW_EVENTS),
            field="events",
        )
    return name


def event_names(events: list[MlflowEvent]) -> list[str]:
    if not events:
        raise InvalidInput("webhook events must be a non-empty list", field="events")
    return [event_name(e) for e in events]


def status_name(status: str | int) -> str:
    name = _enum_name(status, STATUS_NUMBERS, "status")
    if name not in STATUS_NUMBERS.values():
        raise InvalidInput(f"invalid webhook status {status!r}", field="status")
    return name


def mlflow_events(webhook: Webhook) -> list[dict[str, str]]:
    """The webhook's events MLflow's messages can carry, as proto JSON."""
    found = []
    for name in webhook.events:
        if name in MLFLOW_EVENTS:
            entity, action = split_event(name)
            found.append({"entity": entity.upper(), "action": action.upper()})
    return found


def to_mlflow(webhook: Webhook) -> dict[str, Any]:
    """The proto JSON of MLflow's ``Webhook`` message (no secret field: MLflow has none)."""
    shown: dict[str, Any] = {
        "webhook_id": webhook.webhook_id,
        "name": webhook.name,
        "url": webhook.url,
        "events": mlflow_events(webhook),
        "status": webhook.status,
        "creation_timestamp": webhook.creation_timestamp,
        "last_updated_timestamp": webhook.last_updated_timestamp,
    }
    if webhook.description:
        shown["description"] = webhook.description
    return shown


def _visible(webhook: Webhook) -> Webhook:
    if not mlflow_events(webhook):
        raise NotFound(
            f"webhook {webhook.webhook_id} has no events MLflow's API can show; "
            "use /api/v1/webhooks",
            webhook_id=webhook.webhook_id,
        )
    return webhook


def service(request: Request) -> WebhookService:
    found: WebhookService = request.app.state.webhooks
    return found


async def create_webhook(request: Request) -> Response:
    body = await parse(request, CreateWebhook)
    created = await service(request).create(
        name=require(body.name, "name"),
        url=require(body.url, "url"),
        events=event_names(require(body.events, "events")),
        description=body.description or None,
        status=status_name(body.status) if body.status else "ACTIVE",
        secret=body.secret or None,
        # As MLflow: a webhook made without a secret sends unsigned deliveries.
        generate_secret=False,
    )
    return reply({"webhook": to_mlflow(created)})


async def list_webhooks(request: Request) -> Response:
    message = await parse(request, ListWebhooks)
    if not 1 <= message.max_results <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
    page = await service(request).webhooks.list(
        limit=message.max_results, page_token=message.page_token or None
    )
    answer: dict[str, Any] = {"webhooks": [to_mlflow(w) for w in page.items if mlflow_events(w)]}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return reply(answer)


async def get_webhook(request: Request) -> Response:
    found = await service(request).webhooks.get(path_str(request, "webhook_id"))
    return reply({"webhook": to_mlflow(_visible(found))})


async def update_webhook(request: Request) -> Response:
    webhook_id = path_str(request, "webhook_id")
    body = await parse(request, UpdateWebhook)
    hooks = service(request)
    _visible(await hooks.webhooks.get(webhook_id))
    if body.secret:
        check_secret(body.secret)  # before anything changes
    updated = await hooks.update(
        webhook_id,
        name=body.name or None,
        url=body.url or None,
        events=event_names(body.events) if body.events else None,
        description=body.description if body.description is not None else msgspec.UNSET,
        status=status_name(body.status) if body.status else None,
    )
    if body.secret:
        # MLflow replaces the secret at once; an overlap is ours (/api/v1/.../secret).
        updated = await hooks.rotate_secret(webhook_id, secret=body.secret)
    return reply({"webhook": to_mlflow(updated)})


async def delete_webhook(request: Request) -> Response:
    hooks = service(request)
    webhook_id = path_str(request, "webhook_id")
    _visible(await hooks.webhooks.get(webhook_id))
    await hooks.webhooks.delete(webhook_id)
    return reply()


async def test_webhook(request: Request) -> Response:
    webhook_id = path_str(request, "webhook_id")
    body = await parse(request, TestWebhook)
    hooks = service(request)
    webhook = _visible(await hooks.webhooks.get(webhook_id))
    # MLflow's default is the webhook's first event; here its first MLflow event.
    event = (
        event_name(body.event)
        if body.event is not None
        else next(n for n in webhook.events if n in MLFLOW_EVENTS)
    )
    result = await hooks.test(webhook_id, event)
    shown: dict[str, Any] = {"success": result.success}
    if result.response_status is not None:
        shown["response_status"] = result.response_status
    if result.error_message is not None:
        shown["error_message"] = result.error_message
    return reply({"result": shown})


_ONE = "/webhooks/{webhook_id}"

routes = [
    endpoint("POST", "/webhooks", create_webhook, Access.MANAGE),
    endpoint("GET", "/webhooks", list_webhooks, Access.MANAGE),
    endpoint("GET", _ONE, get_webhook, Access.MANAGE),
    endpoint("PATCH", _ONE, update_webhook, Access.MANAGE),
    endpoint("DELETE", _ONE, delete_webhook, Access.MANAGE),
    endpoint("POST", _ONE + "/test", test_webhook, Access.MANAGE),
]
