"""``/api/v1/models``: registered models, their tags and aliases over HTTP."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, create_model, create_version, ok

pytestmark = pytest.mark.anyio


async def test_create_get_and_list(client: httpx.AsyncClient) -> None:
    created = await create_model(client, "churn", description="d", tags={"team": "x"})
    assert created["name"] == "churn"
    assert (created["description"], created["tags"]) == ("d", {"team": "x"})
    assert created["latest_versions"] == [] and created["aliases"] == {}
    assert ok(await client.get(f"{API}/models/churn")) == created
    assert_error(
        await client.post(f"{API}/models", json={"name": "churn"}), 409, "RESOURCE_ALREADY_EXISTS"
    )
    assert_error(await client.get(f"{API}/models/nope"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(await client.post(f"{API}/models", json={"name": 1}), 400, "MALFORMED_REQUEST")


async def test_list_pages_and_filters_by_name(client: httpx.AsyncClient) -> None:
    for name in ["a1", "a2", "a3", "b1"]:
        await create_model(client, name)
    names: list[str] = []
    token = None
    while True:
        params = {"limit": 2, "name_like": "a%"} | ({"page_token": token} if token else {})
        page = ok(await client.get(f"{API}/models", params=params))
        names += [m["name"] for m in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert names == ["a1", "a2", "a3"]
    for params in ({"limit": "0"}, {"page_token": "@@@"}):
        assert_error(
            await client.get(f"{API}/models", params=params), 400, "INVALID_PARAMETER_VALUE"
        )


async def test_patch_renames_and_describes(client: httpx.AsyncClient) -> None:
    await create_model(client, "old")
    await create_version(client, "old")
    renamed = ok(await client.patch(f"{API}/models/old", json={"name": "new", "description": "x"}))
    assert (renamed["name"], renamed["description"]) == ("new", "x")
    assert_error(await client.get(f"{API}/models/old"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert ok(await client.get(f"{API}/models/new/versions/1"))["name"] == "new"
    cleared = ok(await client.patch(f"{API}/models/new", json={"description": None}))
    assert cleared["description"] is None
    await create_model(client, "other")
    assert_error(
        await client.patch(f"{API}/models/new", json={"name": "other"}),
        409,
        "RESOURCE_ALREADY_EXISTS",
    )
    assert_error(
        await client.patch(f"{API}/models/ghost", json={"description": "x"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


async def test_delete(client: httpx.AsyncClient) -> None:
    await create_model(client, "doomed")
    await create_version(client, "doomed")
    ok(await client.delete(f"{API}/models/doomed"), 204)
    assert_error(await client.get(f"{API}/models/doomed"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(await client.delete(f"{API}/models/doomed"), 404, "RESOURCE_DOES_NOT_EXIST")


async def test_tags(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    ok(await client.put(f"{API}/models/m/tags/owner/team", json={"value": "ml"}), 204)
    assert ok(await client.get(f"{API}/models/m"))["tags"] == {"owner/team": "ml"}
    ok(await client.delete(f"{API}/models/m/tags/owner/team"), 204)
    assert ok(await client.get(f"{API}/models/m"))["tags"] == {}
    assert_error(
        await client.put(f"{API}/models/ghost/tags/k", json={"value": "v"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert_error(
        await client.put(f"{API}/models/m/tags/k", json={"value": 1}), 400, "MALFORMED_REQUEST"
    )


async def test_aliases(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    await create_version(client, "m")
    await create_version(client, "m")
    set_one = ok(await client.put(f"{API}/models/m/aliases/champion", json={"version": 1}))
    assert (set_one["version"], set_one["aliases"]) == (1, ["champion"])
    moved = ok(await client.put(f"{API}/models/m/aliases/champion", json={"version": 2}))
    assert moved["version"] == 2
    got = ok(await client.get(f"{API}/models/m/aliases/champion"))
    assert got["version"] == 2 and got["name"] == "m"
    assert ok(await client.get(f"{API}/models/m"))["aliases"] == {"champion": 2}
    ok(await client.delete(f"{API}/models/m/aliases/champion"), 204)
    assert_error(
        await client.get(f"{API}/models/m/aliases/champion"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert_error(
        await client.put(f"{API}/models/m/aliases/champion", json={"version": 9}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert_error(
        await client.put(f"{API}/models/m/aliases/latest", json={"version": 1}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert_error(
        await client.put(f"{API}/models/m/aliases/a", json={"version": "1"}),
        400,
        "MALFORMED_REQUEST",
    )
    assert_error(
        await client.put(f"{API}/models/m/aliases/a", json={"version": 0}), 400, "MALFORMED_REQUEST"
    )
    assert ok(await client.get(f"{API}/models/m"))["aliases"] == {}


@pytest.mark.anyio
async def test_patch_model_is_all_or_nothing(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/models", json={"name": "m1"})
    response = await client.patch(
        "/api/v1/models/m1", json={"name": "m2", "description": "x" * 70_000}
    )
    assert response.status_code == 400
    assert (await client.get("/api/v1/models/m1")).status_code == 200
    assert (await client.get("/api/v1/models/m2")).status_code == 404
