"""MLflow's experiment endpoints: search (filter, order, paging), update, delete, restore, tags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.anyio

API = "/api/2.0/mlflow"


async def create(client: httpx.AsyncClient, name: str, **tags: str) -> str:
    body = {"name": name, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
    response = await client.post(f"{API}/experiments/create", json=body)
    assert response.status_code == 200, response.text
    experiment_id: str = response.json()["experiment_id"]
    return experiment_id


async def search(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post(f"{API}/experiments/search", json=body)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def names(client: httpx.AsyncClient, **body: Any) -> list[str]:
    return [e["name"] for e in (await search(client, **body))["experiments"]]


async def test_search_filters_by_name_and_tags(client: httpx.AsyncClient) -> None:
    await create(client, "alpha-1", team="vision")
    await create(client, "alpha-2", team="nlp")
    await create(client, "beta", team="vision")
    found = await names(client, filter="name LIKE 'alpha%'", order_by=["name ASC"])
    assert found == ["alpha-1", "alpha-2"]
    assert await names(client, filter="tags.team = 'vision'", order_by=["name"]) == [
        "alpha-1",
        "beta",
    ]
    backticked = await names(client, filter="tags.`team` != 'vision'")
    assert backticked == ["alpha-2"]
    ours = await names(client, filter="name = 'beta' OR tags.team = 'nlp'", order_by=["name"])
    assert ours == ["alpha-2", "beta"]


async def test_search_default_order_is_newest_first(client: httpx.AsyncClient) -> None:
    for name in ("a", "b", "c"):
        await create(client, name)
    found = await names(client)
    # Equal creation times (one transaction each, same millisecond) fall back to the id order.
    assert set(found) == {"a", "b", "c", "Default"}
    assert (await names(client, order_by=["experiment_id DESC"]))[-1] == "Default"


async def test_search_pages(client: httpx.AsyncClient) -> None:
    for i in range(5):
        await create(client, f"p{i}")
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body: dict[str, Any] = {"max_results": 2, "order_by": ["name ASC"]}
        if token:
            body["page_token"] = token
        page = await search(client, **body)
        seen += [e["name"] for e in page["experiments"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert seen == ["Default", "p0", "p1", "p2", "p3", "p4"]
    assert pages == 3


async def test_search_get_query_string(client: httpx.AsyncClient) -> None:
    await create(client, "via-get")
    response = await client.get(
        f"{API}/experiments/search",
        params={"filter": "name = 'via-get'", "max_results": "10", "view_type": "ALL"},
    )
    assert [e["name"] for e in response.json()["experiments"]] == ["via-get"]


async def test_bad_filter_and_token_are_invalid_parameter_value(
    client: httpx.AsyncClient,
) -> None:
    for body in (
        {"filter": "name <"},
        {"filter": "metrics.x > 1"},
        {"page_token": "garbage"},
        {"order_by": ["tags.team"]},
        {"view_type": "SOME"},
        {"max_results": 0},
    ):
        response = await client.post(f"{API}/experiments/search", json=body)
        assert response.status_code == 400, body
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


async def test_update_delete_restore(client: httpx.AsyncClient) -> None:
    experiment_id = await create(client, "old")
    ok = await client.post(
        f"{API}/experiments/update", json={"experiment_id": experiment_id, "new_name": "new"}
    )
    assert ok.status_code == 200 and ok.json() == {}
    deleted = await client.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id})
    assert deleted.json() == {}
    assert await names(client, filter="name = 'new'") == []
    assert await names(client, filter="name = 'new'", view_type="DELETED_ONLY") == ["new"]
    again = await client.post(f"{API}/experiments/delete", json={"experiment_id": experiment_id})
    assert again.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    await client.post(f"{API}/experiments/restore", json={"experiment_id": experiment_id})
    got = await client.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    assert got.json()["experiment"]["lifecycle_stage"] == "active"
    assert got.json()["experiment"]["name"] == "new"


async def test_set_and_delete_experiment_tag(client: httpx.AsyncClient) -> None:
    experiment_id = await create(client, "tagged")
    for key, value in (("k", "v"), ("mlflow.note.content", "described")):
        response = await client.post(
            f"{API}/experiments/set-experiment-tag",
            json={"experiment_id": experiment_id, "key": key, "value": value},
        )
        assert response.json() == {}
    ours = (await client.get(f"/api/v1/experiments/{experiment_id}")).json()
    assert ours["tags"] == {"k": "v"} and ours["description"] == "described"
    for key in ("k", "mlflow.note.content"):
        await client.post(
            f"{API}/experiments/delete-experiment-tag",
            json={"experiment_id": experiment_id, "key": key},
        )
    got = await client.get(f"{API}/experiments/get", params={"experiment_id": experiment_id})
    assert got.json()["experiment"]["tags"] == []
    missing = await client.post(
        f"{API}/experiments/delete-experiment-tag",
        json={"experiment_id": experiment_id, "key": "k"},
    )
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
