"""Webhooks inside a running server: the service on ``app.state``, and the dispatcher task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from modelyard.settings import Settings
from modelyard.store._base import Pool
from modelyard.webhooks.dispatcher import Dispatcher
from modelyard.webhooks.service import WebhookService


@asynccontextmanager
async def webhook_runtime(
    app: Starlette, pool: Pool, settings: Settings, conninfo: str
) -> AsyncIterator[WebhookService]:
    """Set ``app.state.webhooks``; run a dispatcher unless settings.webhook_dispatcher is off."""
    service = WebhookService(pool, settings)
    app.state.webhooks = service
    if not settings.webhook_dispatcher:
        yield service
        return
    stop = asyncio.Event()
    dispatcher = Dispatcher(pool, service, conninfo, settings)
    task = asyncio.create_task(dispatcher.run(stop), name="webhook-dispatcher")
    app.state.webhook_dispatcher = dispatcher
    try:
        yield service
    finally:
        stop.set()
        await task
