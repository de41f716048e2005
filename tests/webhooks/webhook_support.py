"""Shared pieces of the webhook tests: the running app, the test secret, all event names."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from starlette.applications import Starlette

from modelyard.webhooks.events import EVENTS

ALL_EVENTS = list(EVENTS)
SECRET = "a-receiver-secret-of-some-length"


class Running:
    """An app with its lifespan running, and an HTTP client of it."""

    def __init__(self, app: Starlette, api: httpx.AsyncClient) -> None:
        self.app = app
        self.api = api

    @property
    def store(self) -> Any:
        return self.app.state.store

    async def create_webhook(self, url: str, events: list[str] | None = None, **body: Any) -> Any:
        response = await self.api.post(
            "/api/v1/webhooks",
            json={"url": url, "events": events or ALL_EVENTS, "secret": SECRET, **body},
        )
        assert response.status_code == 201, response.text
        return response.json()


AppFactory = Callable[..., AbstractAsyncContextManager[Running]]
