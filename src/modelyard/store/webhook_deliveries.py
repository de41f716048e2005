"""Webhook deliveries: one event for one webhook, its attempts, dead letters and redelivery."""

from __future__ import annotations

import uuid

import msgspec
from psycopg.rows import class_row

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.limits import check_uuid
from modelyard.sql import query
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store._registry_base import DEFAULT_WORKSPACE_ID
from modelyard.store.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    split_page,
)
from modelyard.store.webhooks import check_webhook_id

STATES = ("pending", "delivered", "dead")


class Attempt(msgspec.Struct, kw_only=True):
    """One try: when, how long, what came back. The receiver's body is never included."""

    attempt: int
    started_timestamp: int
    latency_ms: float
    response_code: int | None
    error: str | None
    succeeded: bool


class Delivery(msgspec.Struct, kw_only=True):
    """An event on its way to one webhook, under one delivery id for every attempt."""

    delivery_id: str
    webhook_id: str
    event_seq: int
    event: str
    state: str
    attempts: int
    creation_timestamp: int
    next_attempt_timestamp: int | None
    finished_timestamp: int | None
    last_response_code: int | None
    last_error: str | None
    attempt_log: list[Attempt] | msgspec.UnsetType = msgspec.UNSET


def check_delivery_id(value: str) -> uuid.UUID:
    return check_uuid(value, "delivery_id", "delivery id")


def check_state(state: str | None) -> str | None:
    if state is not None and state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}", field="state")
    return state


class WebhookDeliveries(Repository):
    """Deliveries of the webhooks of one workspace."""

    def __init__(self, pool: Pool, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def list(
        self,
        *,
        webhook_id: str | None = None,
        state: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[Delivery]:
        """Deliveries newest event first, of one webhook or all, optionally in one state."""
        key = check_webhook_id(webhook_id) if webhook_id is not None else None
        state = check_state(state)
        limit = check_limit(limit)
        before = 2**63 - 1
        if page_token is not None:
            (before_key,) = decode_cursor(page_token, "deliveries", [int])
            before = int(before_key)  # type: ignore[arg-type]
        async with self.read() as conn:
            cur = conn.cursor(row_factory=class_row(Delivery))
            await cur.execute(
                query("webhooks.list_deliveries"),
                {
                    "ws": self.workspace_id,
                    "webhook_id": key,
                    "state": state,
                    "before": before,
                    "limit": limit + 1,
                },
            )
            rows = await cur.fetchall()
        page, last = split_page(rows, limit)
        token = encode_cursor("deliveries", [last.event_seq]) if last else None
        return Page(items=page, next_page_token=token)

    async def get(self, delivery_id: str) -> Delivery:
        """One delivery with its attempt log."""
        key = check_delivery_id(delivery_id)
        async with self.transaction() as conn:
            found = await _delivery(conn, self.workspace_id, key)
            if found is None:
                raise NotFound(f"delivery {delivery_id} does not exist", delivery_id=delivery_id)
            attempts = conn.cursor(row_factory=class_row(Attempt))
            await attempts.execute(query("webhooks.list_attempts"), {"delivery_id": key})
            found.attempt_log = await attempts.fetchall()
        return found

    async def redeliver(self, delivery_id: str) -> Delivery:
        """Put a dead-lettered delivery back in the queue (same delivery id, a fresh horizon)."""
        key = check_delivery_id(delivery_id)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("webhooks.redeliver"), {"ws": self.workspace_id, "delivery_id": key}
            )
            if await cur.fetchone() is None:
                existing = await _delivery(conn, self.workspace_id, key)
                if existing is None:
                    raise NotFound(
                        f"delivery {delivery_id} does not exist", delivery_id=delivery_id
                    )
                raise InvalidState(
                    f"delivery {delivery_id} is {existing.state}; only a dead delivery is "
                    "redelivered",
                    delivery_id=delivery_id,
                )
            await conn.execute(query("webhooks.notify"))
        return await self.get(delivery_id)


async def _delivery(conn: Conn, workspace_id: int, key: uuid.UUID) -> Delivery | None:
    """The delivery ``key`` of the workspace, without its attempt log; None if there is none."""
    cur = conn.cursor(row_factory=class_row(Delivery))
    await cur.execute(query("webhooks.get_delivery"), {"ws": workspace_id, "delivery_id": key})
    return await cur.fetchone()
