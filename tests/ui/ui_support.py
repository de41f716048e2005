"""Helpers of the browser tests: the live server, a recording page, seeding through the store."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.server import create_app
from modelyard.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """The app served on 127.0.0.1 in a background thread."""

    def __init__(self, dsn: str, settings: Settings | None = None) -> None:
        self.dsn = dsn
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(settings or Settings(database_url=dsn), dsn)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the UI test server did not start within 30 s")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/api/v1{path}", timeout=60, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


class Page:
    """A browser page that records console errors and uncaught exceptions."""

    def __init__(self, browser: Any, base: str, width: int = 1280) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.base = base
        self.errors: list[str] = []
        self.page.on(
            "console", lambda m: self.errors.append(m.text) if m.type == "error" else None
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.errors.append("dialog: " + d.message), d.dismiss()))

    def open(self, path: str) -> Any:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        return self.page

    def close(self) -> None:
        self.context.close()


def seed(dsn: str, coroutine: Any) -> Any:
    """Run ``coroutine(store)`` on a store of its own (data the tests look at)."""
    from modelyard.store import Store

    async def run() -> Any:
        store = await Store.open(dsn, DEFAULT_SCHEMA)
        try:
            return await coroutine(store)
        finally:
            await store.close()

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(asyncio.run(run())))
    worker.start()
    worker.join(timeout=300)
    assert found, "seeding failed (see the thread's traceback above)"
    return found[0]
