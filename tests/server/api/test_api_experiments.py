"""``/api/v1/experiments``: every endpoint's success and error answers."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, create_experiment, create_run, ok

pytestmark = pytest.mark.anyio


async def test_create_returns_201_and_the_experiment(client: httpx.AsyncClient) -> None:
    created = await create_experiment(
        client, "mnist", description="digits", tags={"team": "vision"}
    )
    assert created["name"] == "mnist"
    assert created["description"] == "digits"
    assert created["tags"] == {"team": "vision"}
    assert created["lifecycle_stage"] == "active"
    assert isinstance(created["experiment_id"], int)
    assert isinstance(created["creation_time"], int)
    fetched = ok(await client.get(f"{API}/experiments/{created['experiment_id']}"))
    assert fetched == created


async def test_create_with_a_taken_name_is_409(client: httpx.AsyncClient) -> None:
    await create_experiment(client, "taken")
    response = await client.post(f"{API}/experiments", json={"name": "taken"})
    assert_error(response, 409, "RESOURCE_ALREADY_EXISTS")
    page = ok(await client.get(f"{API}/experiments"))
    assert [e["name"] for e in page["items"]] == ["Default", "taken"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "MALFORMED_REQUEST"),
        (b"[]", "MALFORMED_REQUEST"),
        (b"{}", "MALFORMED_REQUEST"),
        (b'{"name": 5}', "MALFORMED_REQUEST"),
        (b'{"name": "x", "tags": {"k": 1}}', "MALFORMED_REQUEST"),
        (b'{"name": "x", "colour": "red"}', "MALFORMED_REQUEST"),
        (b'{"name": ""}', "INVALID_PARAMETER_VALUE"),
        (b'{"name": "x", "tags": {"bad key!": "v"}}', "INVALID_PARAMETER_VALUE"),
    ],
)
async def test_create_refuses_bad_bodies(client: httpx.AsyncClient, body: bytes, code: str) -> None:
    response = await client.post(f"{API}/experiments", content=body)
    assert_error(response, 400, code)
    listed = ok(await client.get(f"{API}/experiments"))["items"]
    assert [e["name"] for e in listed] == ["Default"]  # experiment 0, always there


async def test_get_unknown_is_404(client: httpx.AsyncClient) -> None:
    details = assert_error(
        await client.get(f"{API}/experiments/999999"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert details["experiment_id"] == 999999


@pytest.mark.parametrize("bad", ["abc", "-1", "1.5", "99999999999999999999", "%20"])
async def test_a_malformed_experiment_id_is_400(client: httpx.AsyncClient, bad: str) -> None:
    details = assert_error(
        await client.get(f"{API}/experiments/{bad}"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert details["field"] == "experiment_id"


async def test_get_by_name(client: httpx.AsyncClient) -> None:
    created = await create_experiment(client, "with space/and slash")
    fetched = ok(await client.get(f"{API}/experiments/by-name/with space/and slash"))
    assert fetched["experiment_id"] == created["experiment_id"]
    missing = await client.get(f"{API}/experiments/by-name/nope")
    assert_error(missing, 404, "RESOURCE_DOES_NOT_EXIST")


async def test_list_pages_with_a_cursor(client: httpx.AsyncClient) -> None:
    ids = [(await create_experiment(client, f"e{i}"))["experiment_id"] for i in range(5)]
    seen: list[int] = []
    token = None
    pages = 0
    while True:
        params = {"limit": 2} | ({"page_token": token} if token else {})
        page = ok(await client.get(f"{API}/experiments", params=params))
        assert set(page) == {"items", "next_page_token"}
        seen += [e["experiment_id"] for e in page["items"]]
        pages += 1
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [0, *ids]  # experiment 0 is MLflow's Default
    assert pages == 3


async def test_list_by_lifecycle(client: httpx.AsyncClient) -> None:
    keep = await create_experiment(client, "keep")
    gone = await create_experiment(client, "gone")
    ok(await client.delete(f"{API}/experiments/{gone['experiment_id']}"), 204)

    async def names(lifecycle: str) -> list[str]:
        page = ok(await client.get(f"{API}/experiments", params={"lifecycle": lifecycle}))
        return [e["name"] for e in page["items"]]

    assert await names("active") == ["Default", keep["name"]]
    assert await names("deleted") == [gone["name"]]
    assert await names("all") == ["Default", "keep", "gone"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"lifecycle": "archived"}, "lifecycle"),
        ({"page_token": "not-a-token"}, "page_token"),
        ({"page_token": "WyJtb2RlbHMiLCJ4Il0"}, "page_token"),  # another listing's token
    ],
)
async def test_list_refuses_bad_query_params(
    client: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    details = assert_error(
        await client.get(f"{API}/experiments", params=params), 400, "INVALID_PARAMETER_VALUE"
    )
    assert details["field"] == field


async def test_patch_renames_and_describes(client: httpx.AsyncClient) -> None:
    exp = await create_experiment(client, "old", description="before")
    url = f"{API}/experiments/{exp['experiment_id']}"
    renamed = ok(await client.patch(url, json={"name": "new"}))
    assert (renamed["name"], renamed["description"]) == ("new", "before")
    described = ok(await client.patch(url, json={"description": "after"}))
    assert (described["name"], described["description"]) == ("new", "after")
    cleared = ok(await client.patch(url, json={"description": None}))
    assert cleared["description"] is None
    assert (
        ok(await client.get(f"{API}/experiments/by-name/new"))["experiment_id"]
        == exp["experiment_id"]
    )


async def test_patch_errors(client: httpx.AsyncClient) -> None:
    first = await create_experiment(client, "first")
    await create_experiment(client, "second")
    url = f"{API}/experiments/{first['experiment_id']}"
    assert_error(await client.patch(url, json={"name": "second"}), 409, "RESOURCE_ALREADY_EXISTS")
    assert ok(await client.get(url))["name"] == "first"
    assert_error(await client.patch(url, json={"name": 3}), 400, "MALFORMED_REQUEST")
    assert_error(
        await client.patch(f"{API}/experiments/424242", json={"name": "x"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    ok(await client.delete(url), 204)
    assert_error(await client.patch(url, json={"name": "third"}), 409, "INVALID_STATE")


async def test_delete_and_restore(client: httpx.AsyncClient) -> None:
    exp = await create_experiment(client, "cycle")
    run = await create_run(client, exp["experiment_id"])
    url = f"{API}/experiments/{exp['experiment_id']}"
    response = await client.delete(url)
    assert response.status_code == 204 and response.content == b""
    assert ok(await client.get(url))["lifecycle_stage"] == "deleted"
    assert ok(await client.get(f"{API}/runs/{run['run_id']}"))["lifecycle_stage"] == "deleted"
    assert_error(await client.delete(url), 409, "INVALID_STATE")
    restored = ok(await client.post(f"{url}/restore"))
    assert restored["lifecycle_stage"] == "active"
    assert ok(await client.get(f"{API}/runs/{run['run_id']}"))["lifecycle_stage"] == "active"
    assert_error(await client.post(f"{url}/restore"), 409, "INVALID_STATE")
    assert_error(await client.delete(f"{API}/experiments/777"), 404, "RESOURCE_DOES_NOT_EXIST")


async def test_tags_set_overwrite_and_delete(client: httpx.AsyncClient) -> None:
    exp = await create_experiment(client, "tagged")
    url = f"{API}/experiments/{exp['experiment_id']}"
    ok(await client.put(f"{url}/tags/owner", json={"value": "ana"}), 204)
    ok(await client.put(f"{url}/tags/owner", json={"value": "bo"}), 204)
    ok(await client.put(f"{url}/tags/mlflow.note/content", json={"value": "n"}), 204)
    assert ok(await client.get(url))["tags"] == {"owner": "bo", "mlflow.note/content": "n"}
    ok(await client.delete(f"{url}/tags/owner"), 204)
    assert ok(await client.get(url))["tags"] == {"mlflow.note/content": "n"}
    assert_error(await client.delete(f"{url}/tags/owner"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(await client.put(f"{url}/tags/k", json={"val": "x"}), 400, "MALFORMED_REQUEST")
    assert_error(
        await client.put(f"{url}/tags/bad*key", json={"value": "x"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert ok(await client.get(url))["tags"] == {"mlflow.note/content": "n"}


@pytest.mark.anyio
async def test_patch_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    first = (await client.post("/api/v1/experiments", json={"name": "first"})).json()
    response = await client.patch(
        f"/api/v1/experiments/{first['experiment_id']}",
        json={"name": "renamed", "description": "x" * 70_000},
    )
    assert response.status_code == 400
    after = (await client.get(f"/api/v1/experiments/{first['experiment_id']}")).json()
    assert after["name"] == "first", "the rename must not apply when the description is refused"
    assert after["description"] is None
