"""Logging in and out in a real browser, against a server with authentication on: the login
page, a wrong token, the session cookie as chromium stores it (HttpOnly, SameSite=Strict, out of
the page's scripts' reach), the page asked for before logging in, and logging out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from ui_support import LiveServer, Page

from modelyard.auth import admin
from modelyard.auth.access import Role
from modelyard.auth.credentials import SESSION_COOKIE
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.settings import Settings


@pytest.fixture(scope="module")
def secured(ui_database: str, ui_runtime_url: str) -> Iterator[tuple[LiveServer, str, str]]:
    """A server with authentication on over the UI database, and a reader's name and token."""
    name = f"reader-{uuid.uuid4().hex[:8]}"
    with admin.connect(ui_database, DEFAULT_SCHEMA) as conn:
        admin.create_user(conn, name, admin=False, service=False)
        admin.add_member(conn, "default", name, Role.READER)
        token = admin.create_token(conn, name, workspace=None, expires_in=None)["token"]
    server = LiveServer(ui_runtime_url, Settings(database_url=ui_runtime_url, auth=True))
    server.start()
    yield server, name, token
    server.stop()


def test_log_in_see_the_page_asked_for_and_log_out(
    browser: Any, secured: tuple[LiveServer, str, str]
) -> None:
    server, name, token = secured
    page = Page(browser, server.url)
    try:
        shown = page.open("/ui/models")
        assert "/ui/login?next=%2Fui%2Fmodels" in shown.url
        shown.fill("#login-token", "myd_" + "0" * 12 + "_" + "0" * 64)
        shown.click("button[type=submit]")
        assert shown.locator("[role=alert]").inner_text() == "invalid API token"
        assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]

        shown.fill("#login-token", token)
        shown.click("button[type=submit]")
        shown.wait_for_url(server.url + "/ui/models")
        assert shown.locator("h1").inner_text() == "Registered models"
        assert name in shown.locator("header").inner_text()
        [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
        assert cookie["value"] != token
        assert SESSION_COOKIE not in shown.evaluate("document.cookie")

        shown.click("header button:has-text('Log out')")
        shown.wait_for_url(server.url + "/ui/login")
        assert "Logged out" in shown.locator("[role=status]").inner_text()
        assert not [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
        shown = page.open("/")
        assert "/ui/login" in shown.url
        assert page.errors == [], page.errors
    finally:
        page.close()
