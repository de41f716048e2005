"""``/api/v1/models/{name}/versions``: register, read, list, describe, tag, stage and delete."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, create_model, create_version, new_run, ok

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

pytestmark = pytest.mark.anyio


async def test_register_numbers_versions_and_links_runs(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    run_id = await new_run(client)
    first = await create_version(
        client, "m", f"{SRC}/a", run_id=run_id, description="d", tags={"k": "v"}
    )
    second = await create_version(client, "m", f"{SRC}/b")
    assert (first["version"], second["version"]) == (1, 2)
    assert first["run_id"] == run_id
    assert (first["source"], first["description"], first["tags"]) == (f"{SRC}/a", "d", {"k": "v"})
    assert first["current_stage"] == "None" and first["status"] == "READY"
    assert ok(await client.get(f"{API}/models/m/versions/1")) == first


async def test_register_errors(client: httpx.AsyncClient) -> None:
    url = f"{API}/models/ghost/versions"
    source = {"source": f"{SRC}/s"}
    assert_error(await client.post(url, json=source), 404, "RESOURCE_DOES_NOT_EXIST")
    await create_model(client, "m")
    url = f"{API}/models/m/versions"
    assert_error(await client.post(url, json={}), 400, "MALFORMED_REQUEST")
    assert_error(await client.post(url, json={"source": ""}), 400, "INVALID_PARAMETER_VALUE")
    missing_run = {"source": f"{SRC}/s", "run_id": "0" * 32}
    assert_error(await client.post(url, json=missing_run), 404, "RESOURCE_DOES_NOT_EXIST")
    assert ok(await client.get(url))["items"] == []


@pytest.mark.parametrize("bad", ["one", "0", "-1", "2147483648", "1.0"])
async def test_a_malformed_version_is_400(client: httpx.AsyncClient, bad: str) -> None:
    await create_model(client, "m")
    details = assert_error(
        await client.get(f"{API}/models/m/versions/{bad}"), 400, "INVALID_PARAMETER_VALUE"
    )
    assert details["field"] == "version"


async def test_list_newest_first_with_pages_and_stage(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    for _ in range(5):
        await create_version(client, "m")
    ok(await client.post(f"{API}/models/m/versions/2/stage", json={"stage": "Staging"}))
    seen: list[int] = []
    token = None
    while True:
        params = {"limit": 2} | ({"page_token": token} if token else {})
        page = ok(await client.get(f"{API}/models/m/versions", params=params))
        seen += [v["version"] for v in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    staged = ok(await client.get(f"{API}/models/m/versions", params={"stage": "Staging"}))
    assert [v["version"] for v in staged["items"]] == [2]
    assert_error(
        await client.get(f"{API}/models/m/versions", params={"stage": "Prod"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


async def test_patch_description(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    await create_version(client, "m")
    url = f"{API}/models/m/versions/1"
    assert ok(await client.patch(url, json={"description": "new"}))["description"] == "new"
    assert ok(await client.patch(url, json={"description": None}))["description"] is None
    assert_error(await client.patch(url, json={}), 400, "MALFORMED_REQUEST")
    assert_error(
        await client.patch(f"{API}/models/m/versions/7", json={"description": "x"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


async def test_delete_never_reuses_the_number(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    await create_version(client, "m")
    ok(await client.delete(f"{API}/models/m/versions/1"), 204)
    assert_error(await client.get(f"{API}/models/m/versions/1"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(await client.delete(f"{API}/models/m/versions/1"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert (await create_version(client, "m"))["version"] == 2


async def test_version_tags(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    await create_version(client, "m")
    url = f"{API}/models/m/versions/1"
    ok(await client.put(f"{url}/tags/quality", json={"value": "good"}), 204)
    assert ok(await client.get(url))["tags"] == {"quality": "good"}
    ok(await client.delete(f"{url}/tags/quality"), 204)
    assert ok(await client.get(url))["tags"] == {}
    assert_error(
        await client.put(f"{API}/models/m/versions/3/tags/q", json={"value": "v"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )


async def test_stage_transitions_and_archive_existing(client: httpx.AsyncClient) -> None:
    await create_model(client, "m")
    await create_version(client, "m")
    await create_version(client, "m")
    base = f"{API}/models/m/versions"
    one = ok(await client.post(f"{base}/1/stage", json={"stage": "production"}))
    assert one["current_stage"] == "Production"
    two = ok(
        await client.post(f"{base}/2/stage", json={"stage": "Production", "archive_existing": True})
    )
    assert two["current_stage"] == "Production"
    assert ok(await client.get(f"{base}/1"))["current_stage"] == "Archived"
    latest = ok(await client.get(f"{API}/models/m"))["latest_versions"]
    assert {(v["version"], v["current_stage"]) for v in latest} >= {(2, "Production")}
    assert_error(
        await client.post(f"{base}/1/stage", json={"stage": "Live"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert_error(
        await client.post(f"{base}/1/stage", json={"stage": "None", "archive_existing": True}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert ok(await client.get(f"{base}/1"))["current_stage"] == "Archived"
    assert_error(await client.post(f"{base}/1/stage", json={"stage": 3}), 400, "MALFORMED_REQUEST")
