"""Helpers of the UI's HTTP tests: the CSRF token a page's forms carry."""

from __future__ import annotations

import re

import httpx

TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The CSRF token of the forms on ``path`` (the page also sets the browser's nonce)."""
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = TOKEN.search(page.text)
    assert found, "page has no CSRF token"
    return found.group(1)
