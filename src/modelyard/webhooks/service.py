"""Webhook operations that need the server's settings: URL checks, secrets, test deliveries.

Both APIs (ours under ``/api/v1/webhooks`` and MLflow's under ``/api/2.0/mlflow/webhooks``) go
through here, so the SSRF rules and the secret handling are the same whichever way a webhook is
made. The dispatcher uses the same resolver, cipher and sender settings.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from cryptography.fernet import Fernet

from modelyard.errors import InvalidInput
from modelyard.settings import Settings
from modelyard.store._base import Pool
from modelyard.store.webhook_deliveries import WebhookDeliveries
from modelyard.store.webhooks import Webhook, Webhooks
from modelyard.webhooks import payload, signing, urls
from modelyard.webhooks.events import EXAMPLES, check_events, split_event
from modelyard.webhooks.sender import Sender


class TestResult(msgspec.Struct, kw_only=True):
    """The outcome of a test delivery. The receiver's body is never echoed back."""

    success: bool
    response_status: int | None = None
    error_message: str | None = None


class WebhookService:
    """Creates, changes and tests webhooks under the server's safety rules."""

    def __init__(self, pool: Pool, settings: Settings) -> None:
        self.settings = settings
        self.webhooks = Webhooks(pool)
        self.deliveries = WebhookDeliveries(pool)
        self._cipher: Fernet | None = None
        # Replaced by tests (a resolver that answers 127.0.0.1 for a public-looking name).
        self.resolver: urls.Resolver = urls.system_resolver

    @property
    def cipher(self) -> Fernet:
        """Loaded on first use: a server whose webhooks have no secrets never needs the key."""
        if self._cipher is None:
            self._cipher = signing.load_key(
                self.settings.webhook_secret_key, self.settings.data_dir
            )
        return self._cipher

    @property
    def allow_private(self) -> bool:
        return self.settings.webhook_allow_private

    def sender(self) -> Sender:
        return Sender(timeout=self.settings.webhook_timeout)

    async def check_url(self, url: str) -> urls.Target:
        return await urls.check(url, allow_private=self.allow_private, resolver=self.resolver)

    async def create(
        self,
        *,
        url: str,
        events: list[str],
        name: str | None = None,
        description: str | None = None,
        status: str = "ACTIVE",
        secret: str | None = None,
        generate_secret: bool = True,
    ) -> Webhook:
        """A new webhook. Without ``secret``, one is generated (unless ``generate_secret`` is
        False: MLflow's API makes unsigned webhooks then) and shown in this answer only."""
        events = check_events(events)
        await self.check_url(url)
        shown = (
            secret
            if secret is not None
            else (signing.generate_secret() if generate_secret else None)
        )
        stored = (
            signing.encrypt(self.cipher, signing.check_secret(shown)) if shown is not None else None
        )
        created = await self.webhooks.create(
            name=name if name is not None else url,
            url=url,
            events=events,
            description=description,
            status=status,
            secret=stored,
        )
        if shown is not None and secret is None:
            created.secret = shown
        return created

    async def update(
        self,
        webhook_id: str,
        *,
        name: str | None = None,
        url: str | None = None,
        events: list[str] | None = None,
        description: str | msgspec.UnsetType | None = msgspec.UNSET,
        status: str | None = None,
    ) -> Webhook:
        if url is not None:
            await self.check_url(url)
        return await self.webhooks.update(
            webhook_id,
            name=name,
            url=url,
            events=check_events(events) if events is not None else None,
            description=description,
            status=status,
        )

    async def rotate_secret(
        self, webhook_id: str, *, secret: str | None = None, overlap_seconds: int = 0
    ) -> Webhook:
        """A new secret (generated when None), shown once; the old one signs too for the overlap."""
        new = signing.check_secret(secret) if secret is not None else signing.generate_secret()
        rotated = await self.webhooks.rotate_secret(
            webhook_id, signing.encrypt(self.cipher, new), overlap_seconds
        )
        if secret is None:
            rotated.secret = new
        return rotated

    async def test(self, webhook_id: str, event: str | None = None) -> TestResult:
        """POST a sample payload of ``event`` (default: the webhook's first) to the webhook now."""
        webhook = await self.webhooks.get(webhook_id)
        name = event if event is not None else webhook.events[0]
        if name not in EXAMPLES:
            raise InvalidInput(f"unknown event {name!r}", field="event")
        target = await self.check_url(webhook.url)
        live = [signing.decrypt(self.cipher, s) for s in await self.webhooks.secrets(webhook_id)]
        entity, action = split_event(name)
        text = payload.body(
            entity,
            action,
            EXAMPLES[name],
            dt.datetime.now(dt.UTC),
            await self.webhooks.workspace_name(),
        )
        sender = self.sender()
        try:
            outcome = await sender.post(
                target, text.encode(), payload.headers(str(uuid.uuid4()), text, live)
            )
        finally:
            await sender.close()
        if outcome.status is None:
            return TestResult(success=False, error_message=outcome.error)
        return TestResult(
            success=outcome.ok,
            response_status=outcome.status,
            error_message=None if outcome.ok else f"receiver answered HTTP {outcome.status}",
        )
