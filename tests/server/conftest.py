"""Server fixtures: the real app over a fresh database, driven in-process through ASGI."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from cryptography.fernet import Fernet

from modelyard.auth import admin
from modelyard.auth.access import Role
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
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
async def client(
    app_database_url: str, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app over a fresh database, with the app's lifespan (pool) running."""
    app = create_app(settings, app_database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as c:
            yield c


@pytest.fixture
def people(database_url: str) -> dict[str, str]:
    """Tokens by who holds them: a reader, an editor and an admin of default, a server admin,
    an admin of workspace "other" only (olga), ed's token limited to "other", and an expired and
    a revoked token of the server admin's."""
    made: dict[str, str] = {}
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.create_workspace(conn, "other")
        for name, role in (("rita", Role.READER), ("ed", Role.EDITOR), ("ada", Role.ADMIN)):
            admin.create_user(conn, name, admin=False, service=False)
            admin.add_member(conn, "default", name, role)
            made[name] = admin.create_token(conn, name, workspace=None, expires_in=None)["token"]
        admin.create_user(conn, "root", admin=True, service=False)
        made["root"] = admin.create_token(conn, "root", workspace=None, expires_in=None)["token"]
        admin.create_user(conn, "olga", admin=False, service=True)
        admin.add_member(conn, "other", "olga", Role.ADMIN)
        made["olga"] = admin.create_token(conn, "olga", workspace=None, expires_in=None)["token"]
        made["ed-other"] = admin.create_token(conn, "ed", workspace="other", expires_in=None)[
            "token"
        ]
        expired = admin.create_token(conn, "root", workspace=None, expires_in=dt.timedelta(hours=1))
        made["expired"] = expired["token"]
        revoked = admin.create_token(conn, "root", workspace=None, expires_in=None)
        admin.revoke_token(conn, revoked["token_id"])
        made["revoked"] = revoked["token"]
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as raw:
        raw.execute(
            "UPDATE api_token SET expires_at = now() - interval '1 second' WHERE token_id = %s",
            [expired["token_id"]],
        )
    return made


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, auth=True)


@pytest.fixture
async def api(
    app_database_url: str, auth_settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, with authentication on."""
    app = create_app(auth_settings, app_database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://modelyard") as c:
            yield c
