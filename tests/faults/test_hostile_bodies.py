"""Hostile bodies: one that arrives too slowly (slowloris) is cut off at the deadline, a huge one
is refused before it is read, and neither holds a worker: the server keeps answering others."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fault_support import ServerProcess

pytestmark = pytest.mark.faults

DEADLINE = 2.0


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(
        database_url,
        tmp_path,
        args=("--no-webhook-dispatcher", "--request-timeout", str(DEADLINE), "--max-body-mb", "1"),
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _status_line(sock: socket.socket) -> bytes:
    answer = b""
    while b"\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_a_body_that_arrives_too_slowly_is_cut_off_at_the_deadline(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{\"name\": "
        )
        started = time.monotonic()
        # Meanwhile the server answers everyone else.
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        status = _status_line(sock)
        waited = time.monotonic() - started
    print(f"\nslowloris body: {status.decode()} after {waited:.2f} s (deadline {DEADLINE} s)")
    assert status.startswith(b"HTTP/1.1 504")
    assert waited < DEADLINE + 5


def test_a_huge_declared_body_is_refused_before_it_is_read(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000000\r\n\r\n{"
        )
        status = _status_line(sock)
    assert status.startswith(b"HTTP/1.1 413")


def test_a_huge_chunked_body_is_refused_at_the_limit(server: ServerProcess) -> None:
    def endless() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(4096):  # 4 GiB if it were all read; the limit is 1 MiB
            yield b"x" * (1024 * 1024)

    try:
        outcome = str(
            httpx.post(
                f"{server.url}/api/v1/experiments",
                content=endless(),
                headers={"content-type": "application/json"},
                timeout=60,
            ).status_code
        )
    except httpx.TransportError:  # the server answered 413 and closed while we still sent
        outcome = "closed while sending"
    print(f"\n4 GiB chunked body against a 1 MiB limit: {outcome}")
    assert outcome in {"413", "closed while sending"}
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
