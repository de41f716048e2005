"""Webhook fixtures: the app with its dispatcher over a fresh database, and real receivers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from webhook_receiver import Receiver
from webhook_support import AppFactory, Running

from modelyard.server import create_app
from modelyard.settings import Settings


@pytest.fixture
def base_settings(tmp_path: Path) -> Settings:
    """Receivers live on 127.0.0.1, so private targets are allowed; retries are fast."""
    return Settings(
        database_url="unused-in-tests",
        data_dir=tmp_path,
        webhook_allow_private=True,
        webhook_secret_key=Fernet.generate_key().decode(),
        webhook_timeout=2.0,
        webhook_backoff_base=0.02,
        webhook_backoff_max=0.1,
        webhook_retry_horizon=60.0,
        webhook_poll_interval=0.5,
    )


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


@pytest.fixture
def make_app(runtime_url: str, base_settings: Settings) -> AppFactory:
    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Running]:
        app = create_app(dataclasses.replace(base_settings, **overrides), runtime_url)
        async with app.router.lifespan_context(app):
            # No DNS in tests: names resolve to a public address unless a test says otherwise.
            app.state.webhooks.resolver = public_resolver
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as c:
                yield Running(app, c)

    return start


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(listening: bool = True, **kwargs: Any) -> Receiver:
        receiver = Receiver(**kwargs)
        made.append(receiver)
        return receiver.up() if listening else receiver

    yield make
    for receiver in made:
        receiver.close()
