"""Server fixtures: the real app over a fresh database, driven in-process through ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.fernet import Fernet

from modelyard.server import create_app
from modelyard.settings import Settings


@pytest.fixture
def settings() -> Settings:
    # No webhook dispatcher in API tests (tests/webhooks starts its own).
    return Settings(
        database_url="unused-in-tests",
        max_body_bytes=8 * 1024 * 1024,
        webhook_dispatcher=False,
        webhook_secret_key=Fernet.generate_key().decode(),
    )


@pytest.fixture
async def client(database_url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app over a fresh database, with the app's lifespan (pool) running."""
    app = create_app(settings, database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as c:
            yield c
