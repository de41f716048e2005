"""``modelyard webhooks`` against a real server process, with a real receiver on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cli_support import free_port, modelyard, start_server, stop_server
from cryptography.fernet import Fernet


class Sink:
    """Counts POSTs and answers ``status`` (changeable while running)."""

    def __init__(self) -> None:
        self.status = 200
        self.bodies: list[dict[str, Any]] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                sink.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(sink.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    made = Sink()
    yield made
    made.close()


@pytest.fixture
def server(database_url: str) -> Iterator[str]:
    """A server that allows receivers on 127.0.0.1 and gives up on a delivery after 0.3 s."""
    port = free_port()
    process = start_server(
        ["--database-url", database_url],
        port,
        server_args=[
            "--webhook-allow-private",
            "--webhook-secret-key",
            Fernet.generate_key().decode(),
            "--webhook-retry-horizon",
            "0.3",
            "--webhook-backoff",
            "0.05",
        ],
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def run_json(*args: str) -> Any:
    result = modelyard(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_webhooks_cli_round_trip(server: str, sink: Sink) -> None:
    u = ("--url", server)
    hook = run_json(
        "webhooks", "create", sink.url, "--events", "registered_model.created,run.failed", *u
    )
    assert hook["events"] == ["registered_model.created", "run.failed"]
    assert len(hook["secret"]) >= 32
    hook_id = hook["webhook_id"]
    assert [h["webhook_id"] for h in run_json("webhooks", "list", *u)] == [hook_id]
    assert "secret" not in run_json("webhooks", "show", hook_id, *u)
    disabled = run_json("webhooks", "update", hook_id, "--status", "DISABLED", *u)
    assert disabled["status"] == "DISABLED"
    rotated = run_json(
        "webhooks",
        "update",
        hook_id,
        "--status",
        "ACTIVE",
        "--rotate-secret",
        "--secret-overlap",
        "60",
        *u,
    )
    assert rotated["status"] == "ACTIVE" and rotated["secret"] != hook["secret"]
    assert rotated["previous_secret_expires"] is not None
    tested = modelyard("webhooks", "test", hook_id, *u)
    assert tested.returncode == 0, tested.stderr
    assert sink.bodies[-1]["entity"] == "registered_model"

    refused = modelyard(
        "webhooks", "create", "http://169.254.169.254/latest", "--events", "run.failed", *u
    )
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "link-local" in refused.stderr

    sink.status = 500
    assert modelyard("models", "create", "churn", *u).returncode == 0
    dead = wait_for(lambda: run_json("webhooks", "dead-letters", *u))
    assert [d["event"] for d in dead] == ["registered_model.created"]
    sink.status = 200
    again = run_json("webhooks", "redeliver", dead[0]["delivery_id"], *u)
    assert again["state"] == "pending"
    delivered = wait_for(lambda: run_json("webhooks", "deliveries", "--state", "delivered", *u))
    assert delivered[0]["delivery_id"] == dead[0]["delivery_id"]

    gone = modelyard("webhooks", "delete", hook_id, *u)
    assert gone.returncode == 0
    assert run_json("webhooks", "list", *u) == []
