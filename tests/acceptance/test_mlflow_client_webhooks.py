"""MLflow's own client (``MlflowClient().create_webhook`` and friends) against a running server.

The receiver is a real HTTP server on 127.0.0.1 (allowed by the server's
``--webhook-allow-private``); signatures are checked with MLflow's own signing function, so a
receiver that MLflow's sender satisfies is satisfied by modelyard's deliveries.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cli_support import free_port, start_server, stop_server
from cryptography.fernet import Fernet

mlflow = pytest.importorskip("mlflow")
from mlflow.entities.webhook import WebhookEvent, WebhookStatus  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402
from mlflow.webhooks.delivery import _generate_hmac_signature  # noqa: E402

SECRET = "an-mlflow-receiver-secret"
NEW_SECRET = "the-secret-after-rotation"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        """What MLflow's sender would have put in X-MLflow-Signature, for this id and time."""
        expected = _generate_hmac_signature(
            secret,
            self.headers["x-mlflow-delivery-id"],
            self.headers["x-mlflow-timestamp"],
            self.body,
        )
        return self.headers.get("x-mlflow-signature") == expected


class Sink:
    """Records every POST and answers 200."""

    def __init__(self) -> None:
        self.received: list[Delivery] = []
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                sink.received.append(
                    Delivery(
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length).decode(),
                    )
                )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} deliveries arrived")
            time.sleep(0.05)
        return self.received[:count]

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
    port = free_port()
    process = start_server(
        ["--database-url", database_url],
        port,
        server_args=[
            "--webhook-allow-private",
            "--webhook-secret-key",
            Fernet.generate_key().decode(),
        ],
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def test_mlflow_client_webhook_calls(server: str, sink: Sink) -> None:
    client = MlflowClient(tracking_uri=server, registry_uri=server)
    hook = client.create_webhook(
        name="deploy-champion",
        url=sink.url,
        events=["model_version.created", WebhookEvent("model_version_alias", "created")],
        description="deploys the champion",
        secret=SECRET,
    )
    assert hook.name == "deploy-champion" and hook.url == sink.url
    assert hook.events == [
        WebhookEvent("model_version", "created"),
        WebhookEvent("model_version_alias", "created"),
    ]
    assert hook.status == WebhookStatus.ACTIVE and hook.description == "deploys the champion"
    assert hook.creation_timestamp > 0
    got = client.get_webhook(hook.webhook_id)
    assert (got.webhook_id, got.events, got.description) == (
        hook.webhook_id,
        hook.events,
        hook.description,
    )

    unsigned = client.create_webhook(
        name="unsigned", url=sink.url, events=["registered_model.created"]
    )
    first = client.list_webhooks(max_results=1)
    assert [w.webhook_id for w in first] == [hook.webhook_id] and first.token
    second = client.list_webhooks(max_results=1, page_token=first.token)
    assert [w.webhook_id for w in second] == [unsigned.webhook_id] and not second.token

    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200 and not result.response_body
    (tested,) = sink.wait_for(1)
    assert (tested.json["entity"], tested.json["action"]) == ("model_version", "created")
    assert tested.signed_with(SECRET)
    alias_test = client.test_webhook(
        hook.webhook_id, event=WebhookEvent("model_version_alias", "created")
    )
    assert alias_test.success
    assert sink.wait_for(2)[1].json["data"]["alias"]

    # A registry change, through modelyard's API, reaches the MLflow-made webhook signed.
    with httpx.Client(base_url=server + "/api/v1") as api:
        assert api.post("/models", json={"name": "churn"}).status_code == 201
        made = api.post("/models/churn/versions", json={"source": "runs:/" + "5" * 32 + "/model"})
        assert made.status_code == 201, made.text
    deliveries = sink.wait_for(4)[2:]
    by_event = {(d.json["entity"], d.json["action"]): d for d in deliveries}
    version = by_event[("model_version", "created")]
    assert version.json["data"]["name"] == "churn" and version.json["data"]["version"] == "1"
    assert version.signed_with(SECRET)
    model = by_event[("registered_model", "created")]
    assert "x-mlflow-signature" not in model.headers  # made through MLflow without a secret

    updated = client.update_webhook(
        hook.webhook_id,
        name="deploy",
        events=[WebhookEvent("model_version_tag", "set")],
        status="DISABLED",
        secret=NEW_SECRET,
    )
    assert updated.name == "deploy" and updated.status == WebhookStatus.DISABLED
    assert updated.events == [WebhookEvent("model_version_tag", "set")]
    assert updated.description == "deploys the champion"
    client.update_webhook(hook.webhook_id, status="ACTIVE")
    assert client.test_webhook(hook.webhook_id).success
    assert sink.wait_for(5)[4].signed_with(NEW_SECRET)

    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException) as missing:
        client.get_webhook(hook.webhook_id)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert [w.webhook_id for w in client.list_webhooks()] == [unsigned.webhook_id]


REFUSED = [
    ("http://169.254.169.254/latest/meta-data/", ["model_version.created"]),
    ("https://2130706433/hook", ["model_version.created"]),
    ("ftp://example.com/hook", ["model_version.created"]),
    ("https://93.184.216.34/hook", ["prompt.created"]),
]


def test_mlflow_client_sees_refusals_as_invalid_parameter(server: str) -> None:
    client = MlflowClient(tracking_uri=server, registry_uri=server)
    for url, events in REFUSED:
        with pytest.raises(MlflowException) as refused:
            client.create_webhook(name="x", url=url, events=events)
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE", (url, events)
    assert client.list_webhooks() == []
