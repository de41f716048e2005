"""``POST /api/v1/runs/search`` and ``POST /api/v1/model-versions/search``: filters over HTTP."""

from __future__ import annotations

import httpx
import pytest
from api_support import API, assert_error, create_experiment, create_run, ok

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32

pytestmark = pytest.mark.anyio


async def _runs(client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    """An experiment with three runs: a (loss 0.2, lr 0.1), b (loss 0.7, lr 0.1), c (no loss)."""
    exp = (await create_experiment(client, "search"))["experiment_id"]
    ids: dict[str, str] = {}
    for i, (name, loss) in enumerate([("a", 0.2), ("b", 0.7), ("c", None)]):
        run = await create_run(
            client,
            exp,
            name=name,
            start_time=1_700_000_000_000 + i,
            tags={"team": "vision" if name != "c" else "nlp"},
        )
        ids[name] = run["run_id"]
        ok(
            await client.post(
                f"{API}/runs/{run['run_id']}/params",
                json={"params": {"lr": "0.1" if name != "c" else "0.5"}},
            ),
            204,
        )
        if loss is not None:
            body = {"keys": ["loss"], "values": [loss], "steps": [0], "timestamps": [1]}
            ok(await client.post(f"{API}/runs/{run['run_id']}/metrics", json=body))
    return exp, ids


async def search(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post(f"{API}/runs/search", json=body)


async def names(client: httpx.AsyncClient, **body: object) -> list[str]:
    page = ok(await search(client, **body))
    return [run["name"] for run in page["items"]]


async def test_filters_and_orders(client: httpx.AsyncClient) -> None:
    exp, _ = await _runs(client)
    assert await names(client, experiment_ids=[exp]) == ["c", "b", "a"]  # newest first
    assert await names(client, experiment_ids=[exp], filter="metrics.loss < 0.5") == ["a"]
    assert await names(
        client, experiment_ids=[exp], filter="params.lr = '0.1'", order_by=["metrics.loss DESC"]
    ) == ["b", "a"]
    assert await names(
        client,
        experiment_ids=[exp],
        filter="tags.team LIKE 'vis%' AND attributes.status = 'RUNNING'",
        order_by=["run_name"],
    ) == ["a", "b"]
    page = ok(await search(client, experiment_ids=[exp], filter="metrics.loss > 0.5"))
    (run,) = page["items"]
    assert run["metrics"]["loss"]["value"] == 0.7 and run["params"] == {"lr": "0.1"}
    assert page["next_page_token"] is None


async def test_pages(client: httpx.AsyncClient) -> None:
    exp, _ = await _runs(client)
    for order in ([], ["run_name ASC"]):
        seen: list[str] = []
        token = None
        while True:
            page = ok(
                await search(
                    client, experiment_ids=[exp], order_by=order, max_results=2, page_token=token
                )
            )
            seen += [run["name"] for run in page["items"]]
            token = page["next_page_token"]
            if token is None:
                break
        assert sorted(seen) == ["a", "b", "c"] and len(seen) == 3
    assert_error(
        await search(client, experiment_ids=[exp], page_token="garbage"),
        400,
        "INVALID_PARAMETER_VALUE",
    )


async def test_lifecycle(client: httpx.AsyncClient) -> None:
    exp, ids = await _runs(client)
    ok(await client.delete(f"{API}/runs/{ids['b']}"), 204)
    assert await names(client, experiment_ids=[exp]) == ["c", "a"]
    assert await names(client, experiment_ids=[exp], lifecycle="deleted") == ["b"]
    assert await names(client, experiment_ids=[exp], lifecycle="all") == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("metrics.loss <", 14),
        ("metrics.loss < 0.5 AND", 22),
        ("params.lr = 0.1 OR (", 20),
        ("nonsense.key = 1", 0),
    ],
)
async def test_a_malformed_filter_is_400_with_the_position(
    client: httpx.AsyncClient, text: str, position: int
) -> None:
    exp, _ = await _runs(client)
    details = assert_error(
        await search(client, experiment_ids=[exp], filter=text), 400, "INVALID_FILTER"
    )
    assert details["position"] == position
    assert details["text"] == text


async def test_a_malformed_order_by_is_400(client: httpx.AsyncClient) -> None:
    exp, _ = await _runs(client)
    response = await search(client, experiment_ids=[exp], order_by=["metrics.loss SIDEWAYS"])
    assert "position" in assert_error(response, 400, "INVALID_FILTER")


@pytest.mark.parametrize(
    "text",
    [
        "tags.team = 'x'; DROP TABLE run; --",
        "tags.team = 'x' OR 1=1",
        "tags.team = 'x'' OR ''1''=''1'",
        "params.`lr'; DROP TABLE run; --` = '1'",
        "attributes.run_name = 'a' UNION SELECT * FROM run",
        "tags.\"team\" = \"vision'; DELETE FROM run WHERE '1'='1\"",
    ],
)
async def test_sql_injection_attempts_are_harmless(client: httpx.AsyncClient, text: str) -> None:
    exp, ids = await _runs(client)
    response = await search(client, experiment_ids=[exp], filter=text)
    if response.status_code == 200:
        assert response.json()["items"] == []
    else:
        assert_error(response, 400, "INVALID_FILTER")
    assert await names(client, experiment_ids=[exp]) == ["c", "b", "a"]
    for run_id in ids.values():
        ok(await client.get(f"{API}/runs/{run_id}"))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"experiment_ids": "1"},
        {"experiment_ids": [1], "max_results": 0},
        {"experiment_ids": [1], "max_results": 1001},
        {"experiment_ids": [1], "lifecycle": "gone"},
        {"experiment_ids": [1], "order_by": "metrics.loss"},
    ],
)
async def test_bad_search_bodies_are_400(client: httpx.AsyncClient, body: object) -> None:
    assert_error(await client.post(f"{API}/runs/search", json=body), 400, "MALFORMED_REQUEST")


async def _versions(client: httpx.AsyncClient) -> None:
    for name in ("alpha", "beta"):
        ok(await client.post(f"{API}/models", json={"name": name}), 201)
        for source in (f"{SRC}/one", f"{SRC}/two"):
            ok(await client.post(f"{API}/models/{name}/versions", json={"source": source}), 201)
    url = f"{API}/models/beta/versions/1/tags/checked"
    ok(await client.put(url, json={"value": "yes"}), 204)


async def search_versions(client: httpx.AsyncClient, **body: object) -> httpx.Response:
    return await client.post(f"{API}/model-versions/search", json=body)


async def test_model_version_search(client: httpx.AsyncClient) -> None:
    await _versions(client)
    page = ok(await search_versions(client, filter="name = 'alpha'"))
    assert [(v["name"], v["version"]) for v in page["items"]] == [("alpha", 2), ("alpha", 1)]
    assert page["next_page_token"] is None
    page = ok(await search_versions(client, filter="tags.checked = 'yes'"))
    assert [(v["name"], v["version"], v["tags"]) for v in page["items"]] == [
        ("beta", 1, {"checked": "yes"})
    ]
    page = ok(await search_versions(client, order_by=["version_number ASC"]))
    assert [v["version"] for v in page["items"]] == [1, 1, 2, 2]


async def test_model_version_search_pages(client: httpx.AsyncClient) -> None:
    await _versions(client)
    seen: list[tuple[str, int]] = []
    token = None
    while True:
        page = ok(await search_versions(client, max_results=3, page_token=token))
        seen += [(v["name"], v["version"]) for v in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [("alpha", 2), ("alpha", 1), ("beta", 2), ("beta", 1)]
    assert_error(await search_versions(client, page_token="junk"), 400, "INVALID_PARAMETER_VALUE")


async def test_model_version_search_errors(client: httpx.AsyncClient) -> None:
    await _versions(client)
    details = assert_error(await search_versions(client, filter="name = "), 400, "INVALID_FILTER")
    assert details["position"] == 7
    injected = await search_versions(client, filter="name = 'alpha'; DROP TABLE model_version")
    assert_error(injected, 400, "INVALID_FILTER")
    assert len(ok(await search_versions(client))["items"]) == 4
    assert_error(await search_versions(client, max_results=0), 400, "MALFORMED_REQUEST")
