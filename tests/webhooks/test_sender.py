"""One webhook POST is bounded: a deadline for the whole exchange and a cap on what is read.

Hostile receivers on 127.0.0.1, written on raw sockets so they can misbehave in ways an HTTP
server library would not: a 200 followed by an endless body, a body trickled a byte at a time,
and a connection that is accepted and never answered. Each stops by itself (a bounded loop).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from modelyard.webhooks import urls
from modelyard.webhooks.sender import KEPT_BODY_CHARS, Outcome, Sender

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
# Every hostile receiver gives up after this long, so a broken Sender fails the test, not CI.
RECEIVER_LIFETIME = 60.0


class Hostile:
    """Accepts one connection, reads the request, then runs ``behave`` on the socket."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.hung_up = threading.Event()  # set when the client closed on us
        self._behave = behave
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._listener.accept()
        with conn:
            conn.settimeout(RECEIVER_LIFETIME)
            request = b""
            while b"\r\n\r\n" not in request:
                request += conn.recv(4096)
            try:
                self._behave(conn)
            except OSError:  # BrokenPipe, ConnectionReset: the client went away
                self.hung_up.set()

    def close(self) -> None:
        self._listener.close()
        self._thread.join(RECEIVER_LIFETIME + 5)


def endless_body(conn: socket.socket) -> None:
    conn.sendall(HEAD)
    chunk = b"x" * 65536
    deadline = time.monotonic() + RECEIVER_LIFETIME
    while time.monotonic() < deadline:
        conn.sendall(chunk)


def trickle(conn: socket.socket) -> None:
    conn.sendall(HEAD)
    deadline = time.monotonic() + RECEIVER_LIFETIME
    while time.monotonic() < deadline:
        conn.sendall(b"x")
        time.sleep(0.05)


def silent(conn: socket.socket) -> None:
    # Says nothing; reads (the rest of the body) until the client hangs up, or the lifetime
    # runs out (recv times out).
    while conn.recv(4096):
        pass
    raise ConnectionResetError


@pytest.fixture
def hostile() -> Iterator[Callable[[Callable[[socket.socket], None]], Hostile]]:
    made: list[Hostile] = []

    def make(behave: Callable[[socket.socket], None]) -> Hostile:
        made.append(Hostile(behave))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


async def post(receiver: Hostile, timeout: float) -> Outcome:
    async def loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    target = await urls.check(
        f"http://127.0.0.1:{receiver.port}/hook", allow_private=True, resolver=loopback
    )
    sender = Sender(timeout=timeout)
    try:
        outcome = await sender.post(target, b"{}", {"Content-Type": "application/json"})
    finally:
        await sender.close()
    return outcome


async def test_an_endless_body_is_cut_at_the_cap(hostile: Callable[..., Hostile]) -> None:
    """Read in full, the body would outlast the (long) timeout: the cap ends the attempt."""
    receiver = hostile(endless_body)
    outcome = await post(receiver, timeout=RECEIVER_LIFETIME / 2)
    assert outcome.status == 200 and outcome.error is None
    assert len(outcome.body) == KEPT_BODY_CHARS
    assert receiver.hung_up.wait(RECEIVER_LIFETIME)


@pytest.mark.parametrize("behave", [trickle, silent], ids=["trickle", "silent"])
async def test_one_deadline_for_the_whole_exchange(
    hostile: Callable[..., Hostile], behave: Callable[[socket.socket], None]
) -> None:
    """A byte every 50 ms never trips a per-read timeout; the whole-attempt deadline ends it."""
    receiver = hostile(behave)
    outcome = await post(receiver, timeout=0.5)
    assert outcome.status is None
    assert outcome.error == "timed out after 0.5 s"
    assert receiver.hung_up.wait(RECEIVER_LIFETIME)
