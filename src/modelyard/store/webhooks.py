"""Webhooks: the rows that say where to POST which events. Secrets arrive already encrypted.

URL checks and secret encryption need the server's settings (``--webhook-allow-private``, the
key), so they live in :mod:`modelyard.webhooks.service`; this repository only stores and reads.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from typing import Any, cast

import msgspec
from psycopg.rows import dict_row

from modelyard.errors import InvalidInput, NotFound
from modelyard.limits import check_uuid
from modelyard.sql import query
from modelyard.store import validation
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

STATUSES = ("ACTIVE", "DISABLED")
MAX_DESCRIPTION_LENGTH = 5000


class Webhook(msgspec.Struct, kw_only=True):
    """A webhook as the API shows it; the secret itself is shown only when it is set."""

    webhook_id: str
    name: str
    url: str
    events: list[str]
    description: str | None
    status: str
    creation_timestamp: int
    last_updated_timestamp: int
    has_secret: bool
    # While a rotation's overlap runs: when the previous secret stops signing (ms).
    previous_secret_expires: int | None = None
    # Only in the answer that sets it (create, rotation): shown once, never again.
    secret: str | msgspec.UnsetType = msgspec.UNSET


def webhook_from_row(row: Mapping[str, Any]) -> Webhook:
    """A row of ``webhooks.get_webhook`` / ``list_webhooks``, by column name."""
    return Webhook(
        webhook_id=row["webhook_id"].hex,
        name=row["name"],
        url=row["url"],
        events=list(row["events"]),
        description=row["description"],
        status=row["status"],
        creation_timestamp=row["creation_timestamp"],
        last_updated_timestamp=row["last_updated_timestamp"],
        has_secret=row["has_secret"],
        previous_secret_expires=row["previous_secret_expires"],
    )


def webhook_not_found(webhook_id: str) -> NotFound:
    return NotFound(f"webhook {webhook_id} does not exist", webhook_id=webhook_id)


def check_webhook_id(value: str) -> uuid.UUID:
    return check_uuid(value, "webhook_id", "webhook id")


def check_name(name: str) -> str:
    return validation.check_text(name, "name", 256)


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")
    return status


def check_description(description: str | None) -> str | None:
    return validation.check_optional_text(description, "description", MAX_DESCRIPTION_LENGTH)


class Webhooks(Repository):
    """Webhook rows of one workspace."""

    def __init__(self, pool: Pool, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    def _args(self, **values: Any) -> dict[str, Any]:
        return {"ws": self.workspace_id, **values}

    async def create(
        self,
        *,
        name: str,
        url: str,
        events: builtins.list[str],
        description: str | None,
        status: str,
        secret: bytes | None,
    ) -> Webhook:
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("webhooks.create_webhook"),
                self._args(
                    name=check_name(name),
                    url=url,
                    events=events,
                    description=check_description(description),
                    status=check_status(status),
                    secret=secret,
                ),
            )
            row = await cur.fetchone()
            assert row is not None  # INSERT ... RETURNING always returns the row
            return await self._fetch(conn, cast(uuid.UUID, row[0]))

    async def get(self, webhook_id: str) -> Webhook:
        async with self.read() as conn:
            return await self._fetch(conn, check_webhook_id(webhook_id))

    async def list(
        self, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[Webhook]:
        limit = check_limit(limit)
        after_us: int | None = None
        after_id: str | None = None
        if page_token is not None:
            after_us_key, after_id_key = decode_cursor(page_token, "webhooks", [int, str])
            after_us, after_id = int(after_us_key), str(after_id_key)  # type: ignore[arg-type]
        async with self.read() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                query("webhooks.list_webhooks"),
                self._args(after_us=after_us, after_id=after_id, limit=limit + 1),
            )
            rows = await cur.fetchall()
        page, last = split_page(rows, limit)
        token = (
            encode_cursor("webhooks", [last["created_us"], str(last["webhook_id"])])
            if last
            else None
        )
        return Page(items=[webhook_from_row(r) for r in page], next_page_token=token)

    async def update(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        events: builtins.list[str] | None = None,
        description: str | msgspec.UnsetType | None = msgspec.UNSET,
        status: str | None = None,
    ) -> Webhook:
        key = check_webhook_id(webhook_id)
        args = self._args(
            webhook_id=key,
            name=check_name(name) if name is not None else None,
            url=url,
            events=events,
            set_description=description is not msgspec.UNSET,
            description=None if description is msgspec.UNSET else check_description(description),
            status=check_status(status) if status is not None else None,
        )
        async with self.transaction() as conn:
            cur = await conn.execute(query("webhooks.update_webhook"), args)
            if await cur.fetchone() is None:
                raise webhook_not_found(webhook_id)
            return await self._fetch(conn, key)

    async def rotate_secret(self, webhook_id: str, secret: bytes, overlap_seconds: int) -> Webhook:
        """Set a new secret; the old one keeps signing for ``overlap_seconds`` (0: stops now)."""
        key = check_webhook_id(webhook_id)
        if not 0 <= overlap_seconds <= 30 * 86400:
            raise InvalidInput("overlap must be from 0 to 30 days", field="overlap_seconds")
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("webhooks.rotate_secret"),
                self._args(webhook_id=key, secret=secret, overlap=overlap_seconds),
            )
            if await cur.fetchone() is None:
                raise webhook_not_found(webhook_id)
            return await self._fetch(conn, key)

    async def delete(self, webhook_id: str) -> None:
        """Delete a webhook with its deliveries and their log."""
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("webhooks.delete_webhook"),
                self._args(webhook_id=check_webhook_id(webhook_id)),
            )
            if await cur.fetchone() is None:
                raise webhook_not_found(webhook_id)

    async def secrets(self, webhook_id: str) -> builtins.list[bytes]:
        """The encrypted secrets that sign now, newest first (empty: deliveries are unsigned)."""
        async with self.read() as conn:
            cur = await conn.execute(
                query("webhooks.webhook_secrets"),
                self._args(webhook_id=check_webhook_id(webhook_id)),
            )
            row = await cur.fetchone()
        if row is None:
            raise webhook_not_found(webhook_id)
        return [bytes(cast(bytes, s)) for s in row if s is not None]

    async def workspace_name(self) -> str:
        async with self.read() as conn:
            cur = await conn.execute(query("webhooks.workspace_name"), self._args())
            row = await cur.fetchone()
        return str(row[0]) if row else "default"

    async def _fetch(self, conn: Conn, key: uuid.UUID) -> Webhook:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query("webhooks.get_webhook"), self._args(webhook_id=key))
        row = await cur.fetchone()
        if row is None:
            raise webhook_not_found(key.hex)
        return webhook_from_row(row)
