"""Acceptance fixtures: a real ``modelyard server`` process over a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cli_support import free_port, start_server, stop_server


@pytest.fixture
def server_url(runtime_url: str) -> Iterator[str]:
    """URL of a ``modelyard server`` subprocess serving a fresh database; stopped after."""
    port = free_port()
    process = start_server(["--database-url", runtime_url], port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)
