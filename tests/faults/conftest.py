"""The concurrency scenarios run twice: the server connected to PostgreSQL directly, and through
PgBouncer in transaction mode (skipped, with the reason, where pgbouncer is not installed)."""

from __future__ import annotations

import pytest

from pooler_support import ROUTES, route_url


@pytest.fixture(params=ROUTES)
def route(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app_database_url(request: pytest.FixtureRequest, route: str, database_url: str) -> str:
    return route_url(request, route, database_url)


@pytest.fixture
def route_args(route: str) -> tuple[str, ...]:
    """The server flags for the route: PgBouncer 1.18 carries no prepared statements."""
    return () if route == "direct" else ("--no-prepared-statements",)
