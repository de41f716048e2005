"""Running the real ``modelyard`` command as a subprocess, as a user would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

import httpx


def modelyard(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m modelyard ARGS`` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    args: Sequence[str],
    port: int,
    timeout: float = 60,
    server_args: Sequence[str] = (),
) -> subprocess.Popen[str]:
    """Start ``modelyard ARGS server --port PORT SERVER_ARGS``; wait until /ready answers 200."""
    process = subprocess.Popen(
        [sys.executable, "-m", "modelyard", *args, "server", "--port", str(port), *server_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"server exited with {process.returncode}: {err or out}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("server did not become ready in time")


def stop_server(process: subprocess.Popen[str], timeout: float = 60) -> int:
    """SIGTERM the server and wait for a clean exit; returns its exit code."""
    process.terminate()
    try:
        process.wait(timeout)
    finally:
        if process.poll() is None:
            process.kill()
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()
    return int(process.returncode)
