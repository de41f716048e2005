"""The ``/api/v1`` tests run twice: with the app connected to PostgreSQL directly, and through
PgBouncer in transaction mode (skipped, with the reason, where pgbouncer is not installed)."""

from __future__ import annotations

import dataclasses

import pytest

from modelyard.settings import Settings
from pooler_support import ROUTES, route_url


@pytest.fixture(params=ROUTES)
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_database_url(request: pytest.FixtureRequest, route: str, runtime_url: str) -> str:
    """The runtime role's URL, directly or through PgBouncer."""
    return route_url(request, route, runtime_url)


@pytest.fixture
def settings(settings: Settings, route: str) -> Settings:
    # PgBouncer 1.18 cannot carry prepared statements in transaction mode (docs/scaling.md).
    return dataclasses.replace(settings, prepared_statements=route == "direct")
