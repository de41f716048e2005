"""Compatibility fixtures: a real ``modelyard server`` process driven by the real mlflow client.

Each test gets a server over a fresh database, and the mlflow client pointed at it through
``MLFLOW_TRACKING_URI``, exactly as a user switches backends. The client's retries are turned off
so an error answer reaches the test at once instead of after the client's backoff.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

mlflow = pytest.importorskip("mlflow")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(database_url: str, port: int, timeout: float = 60) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "modelyard", "--database-url", database_url]
    process = subprocess.Popen(
        [*command, "server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.communicate()[1].decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not become ready in time")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(60)
    finally:
        if process.poll() is None:
            process.kill()
        if process.stderr:
            process.stderr.close()


@pytest.fixture
def tracking_uri(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A running server's URL, set as the mlflow client's tracking URI for this test."""
    port = _free_port()
    process = _start(database_url, port)
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    mlflow.set_tracking_uri(url)
    try:
        yield url
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        _stop(process)


@pytest.fixture
def client(tracking_uri: str) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri)
