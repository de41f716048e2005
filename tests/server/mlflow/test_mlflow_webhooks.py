"""MLflow's webhook messages at the edges the MLflow client does not reach: enum numbers, webhooks
made through our API with events MLflow cannot name, and MLflow's error shape for bad requests.
(The MLflow client itself runs in tests/acceptance/test_mlflow_client_webhooks.py.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

API = "/api/2.0/mlflow"
# A literal public address: checked without DNS, never connected to here (no test endpoint).
URL = "https://93.184.216.34/hook"
SECRET = "a-secret-long-enough-1234"


async def test_enum_numbers_and_names(client: httpx.AsyncClient) -> None:
    made = await client.post(
        f"{API}/webhooks",
        json={
            "name": "numbers",
            "url": URL,
            "events": [{"entity": 2, "action": 1}, {"entity": "MODEL_VERSION_TAG", "action": 4}],
            "status": 2,
            "secret": SECRET,
        },
    )
    assert made.status_code == 200, made.text
    hook = made.json()["webhook"]
    assert hook["events"] == [
        {"entity": "MODEL_VERSION", "action": "CREATED"},
        {"entity": "MODEL_VERSION_TAG", "action": "SET"},
    ]
    assert hook["status"] == "DISABLED"
    assert "secret" not in hook and SECRET not in made.text
    ours = (await client.get(f"/api/v1/webhooks/{hook['webhook_id']}")).json()
    assert ours["events"] == ["model_version.created", "model_version_tag.set"]
    assert ours["has_secret"] is True


async def test_events_mlflow_cannot_name(client: httpx.AsyncClient) -> None:
    async def ours(events: list[str]) -> str:
        made = await client.post("/api/v1/webhooks", json={"url": URL, "events": events})
        assert made.status_code == 201, made.text
        webhook_id: str = made.json()["webhook_id"]
        return webhook_id

    runs_only = await ours(["run.failed"])
    mixed = await ours(["run.finished", "model_version_alias.created"])
    listed = (await client.get(f"{API}/webhooks")).json()["webhooks"]
    assert [w["webhook_id"] for w in listed] == [mixed]
    assert listed[0]["events"] == [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}]
    hidden = await client.get(f"{API}/webhooks/{runs_only}")
    assert hidden.status_code == 404
    assert hidden.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # The web UI's twin mount answers the same.
    twin = (await client.get(f"/ajax-api/2.0/mlflow/webhooks/{mixed}")).json()
    assert twin["webhook"]["webhook_id"] == mixed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": URL, "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}]}, "name"),
        ({"name": "n", "url": URL, "events": []}, "events"),
        ({"name": "n", "url": URL, "events": [{"entity": "REGISTERED_MODEL", "action": 3}]}, ""),
        ({"name": "n", "url": URL, "events": [{"entity": "PROMPT", "action": "CREATED"}]}, ""),
        ({"name": "n", "url": URL, "events": [{"entity": 99, "action": 1}]}, ""),
        (
            {
                "name": "n",
                "url": URL,
                "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}],
                "status": "PAUSED",
            },
            "",
        ),
        (
            {
                "name": "n",
                "url": URL,
                "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}],
                "secret": "short",
            },
            "",
        ),
        (
            {
                "name": "n",
                "url": "https://10.0.0.1/hook",
                "events": [{"entity": "MODEL_VERSION", "action": "CREATED"}],
            },
            "",
        ),
    ],
)
async def test_bad_creates_are_invalid_parameter_value(
    client: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    refused = await client.post(f"{API}/webhooks", json=body)
    assert refused.status_code == 400, refused.text
    answer = refused.json()
    assert set(answer) == {"error_code", "message"}
    assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert field in answer["message"]
    assert (await client.get(f"{API}/webhooks")).json().get("webhooks", []) == []


async def test_bad_list_and_update(client: httpx.AsyncClient) -> None:
    assert (await client.get(f"{API}/webhooks", params={"max_results": 0})).status_code == 400
    made = await client.post(
        f"{API}/webhooks",
        json={"name": "n", "url": URL, "events": [{"entity": 2, "action": 1}]},
    )
    webhook_id = made.json()["webhook"]["webhook_id"]
    bad = await client.patch(
        f"{API}/webhooks/{webhook_id}", json={"url": "https://127.0.0.1/hook", "secret": SECRET}
    )
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    ours = (await client.get(f"/api/v1/webhooks/{webhook_id}")).json()
    assert ours["url"] == URL and ours["has_secret"] is False  # nothing changed
    missing = await client.delete(f"{API}/webhooks/{'0' * 32}")
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
