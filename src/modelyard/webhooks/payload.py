"""What a receiver gets: MLflow's envelope, body and headers, byte for byte in its format.

MLflow sends ``json.dumps({"entity", "action", "timestamp", "data"})`` (plus ``"workspace"`` when
workspaces are on) with ``X-MLflow-Delivery-Id``, ``X-MLflow-Timestamp`` (Unix seconds, the time
of sending) and ``X-MLflow-Signature``. The body's ``timestamp`` is when the change committed, so
every attempt of one delivery sends the same body; the header timestamp is fresh on each attempt,
so a receiver's replay window does not reject a retry after an outage.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping

from modelyard.webhooks.events import EXAMPLES
from modelyard.webhooks.signing import signature_header

DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
SIGNATURE_HEADER = "X-MLflow-Signature"
DEFAULT_WORKSPACE = "default"


def _ordered(event: str, data: Mapping[str, object]) -> dict[str, object]:
    """``data`` with MLflow's key order (jsonb stores keys in its own order)."""
    order = list(EXAMPLES.get(event, {}))
    known = {key: data[key] for key in order if key in data}
    return {**known, **{k: v for k, v in data.items() if k not in known}}


def body(
    entity: str,
    action: str,
    data: Mapping[str, object],
    occurred_at: dt.datetime,
    workspace: str | None,
) -> str:
    """The JSON text sent and signed; ``workspace`` is included outside the default one."""
    envelope: dict[str, object] = {
        "entity": entity,
        "action": action,
        "timestamp": occurred_at.astimezone(dt.UTC).isoformat(),
        "data": _ordered(f"{entity}.{action}", data),
    }
    if workspace is not None and workspace != DEFAULT_WORKSPACE:
        envelope["workspace"] = workspace
    return json.dumps(envelope)


def headers(delivery_id: str, payload: str, secrets: list[str]) -> dict[str, str]:
    """MLflow's delivery headers; unsigned (as MLflow does) when the webhook has no secret."""
    timestamp = str(int(time.time()))
    found = {
        "Content-Type": "application/json",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: timestamp,
    }
    if secrets:
        found[SIGNATURE_HEADER] = signature_header(secrets, delivery_id, timestamp, payload)
    return found
