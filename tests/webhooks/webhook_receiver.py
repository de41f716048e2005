"""A real HTTP receiver on 127.0.0.1 for webhook tests, and MLflow's documented verification.

The verification functions are written from MLflow's webhook documentation ("Verifying
signatures"): strip the ``v1,`` prefix, HMAC-SHA256 over ``{delivery_id}.{timestamp}.{payload}``,
base64, constant-time compare; and a timestamp no older than five minutes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def verify_mlflow_signature(
    payload: str, signature: str, secret: str, delivery_id: str, timestamp: str
) -> bool:
    """As in MLflow's docs: one ``v1,<base64>`` signature, compared in constant time."""
    if not signature.startswith("v1,"):
        return False
    signature_b64 = signature.removeprefix("v1,")
    signed_content = f"{delivery_id}.{timestamp}.{payload}"
    expected = hmac.new(secret.encode("utf-8"), signed_content.encode("utf-8"), hashlib.sha256)
    expected_b64 = base64.b64encode(expected.digest()).decode("utf-8")
    return hmac.compare_digest(signature_b64, expected_b64)


def verify_timestamp_freshness(timestamp: str, max_age: int = 300) -> bool:
    try:
        age = int(time.time()) - int(timestamp)
    except (TypeError, ValueError):
        return False
    return 0 <= age <= max_age


def verify_any(payload: str, header: str, secret: str, delivery_id: str, timestamp: str) -> bool:
    """Standard Webhooks style: the header may hold several space-separated ``v1,`` entries."""
    return any(
        verify_mlflow_signature(payload, entry, secret, delivery_id, timestamp)
        for entry in header.split(" ")
    )


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    path: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def delivery_id(self) -> str:
        return self.headers["x-mlflow-delivery-id"]


# (request number, received) -> (status, extra headers, body); the default answers 200.
Responder = Callable[[int, Received], tuple[int, dict[str, str], bytes]]


@dataclass
class Receiver:
    """Records every POST; ``responder`` decides the answer. Starts refusing connections until
    :meth:`up` when created with ``listening=False`` (the port is bound, not listening)."""

    responder: Responder = lambda n, r: (200, {}, b"ok")
    received: list[Received] = field(default_factory=list)
    hang: threading.Event | None = None
    # Set once a hanging answer's status line and headers are on the wire.
    responded: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                got = Received(
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length).decode("utf-8"),
                    path=self.path,
                )
                with receiver._cond:
                    receiver.received.append(got)
                    number = len(receiver.received)
                    receiver._cond.notify_all()
                status, headers, body = receiver.responder(number, got)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                hang = receiver.hang
                if hang is not None:
                    # Status line and headers sent, body withheld: the caller saw a 2xx and has
                    # not finished the exchange.
                    self.wfile.flush()
                    receiver.responded.set()
                    hang.wait(60)
                    return
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), Handler, bind_and_activate=False
        )
        self._server.daemon_threads = True
        self._server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.server_bind()
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> Receiver:
        self._server.server_activate()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self.hang is not None:
            self.hang.set()
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first ``count`` requests, waiting at most ``timeout`` seconds for them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver got {len(self.received)} of {count} requests in {timeout} s"
                    )
                self._cond.wait(left)
            return list(self.received[:count])
