"""Browser tests of the web UI: one Debian chromium per session, driven by Playwright, against the
real app served by uvicorn in a thread on a free port over a fresh database.

Chromium is never downloaded: Playwright launches ``/usr/bin/chromium`` (``scripts/test``
installs Debian's package when it can). Without it these tests are skipped, saying why. They run
on one PostgreSQL kind only: the SQL they reach is covered on every kind by the store tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from ui_support import CHROMIUM, CHROMIUM_ARGS, LiveServer, Page

from modelyard.db.conninfo import with_database


@pytest.fixture(scope="session")
def ui_database(pg_server: str, template_db: str) -> Iterator[str]:
    # Skipped here, in the session fixture every browser test depends on, rather than in a
    # function-scoped one: pytest builds session and module fixtures first, so a later skip
    # would still start a second server and seed its million points under every worker.
    with psycopg.connect(pg_server, autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
    if not os.environ.get("MODELYARD_TEST_DSN") and version and int(version[0]) < 180000:
        pytest.skip("browser tests run on one PostgreSQL kind (store tests cover the others)")
    name = f"modelyard_ui_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_db)
            )
        )
    yield with_database(pg_server, name)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def ui_runtime_url(ui_database: str, runtime_login: Any) -> str:
    """The UI database as the runtime role (tests/conftest.py), which the live servers use."""
    return str(runtime_login.url(ui_database))


@pytest.fixture(scope="session")
def live_server(ui_runtime_url: str) -> Iterator[LiveServer]:
    server = LiveServer(ui_runtime_url)
    server.start()
    yield server
    server.stop()


# Module scope, not session: while Playwright's sync API is started it keeps an event loop
# running in this thread, and any async test run meanwhile in the same process (pytest-xdist
# interleaves modules) could not start its own. Stopping it after the module frees the thread.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Page]:
    opened = Page(browser, live_server.url)
    yield opened
    opened.close()
