"""``Idempotency-Key`` on the creating writes: replay, reuse, concurrency, scope and expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import psycopg
import pytest
from api_support import API, SRC, assert_error, create_experiment, create_model, ok
from auth_support import bearer

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.gc import collect

pytestmark = pytest.mark.anyio


def _key(key: str, **headers: str) -> dict[str, str]:
    return {"idempotency-key": key, **headers}


def _count(database_url: str, statement: str) -> int:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        row = conn.execute(statement).fetchone()
    assert row is not None
    return int(row[0])


async def test_a_retried_run_creation_replays_the_first_answer(
    client: httpx.AsyncClient, database_url: str
) -> None:
    exp = await create_experiment(client, "e")
    body = {"experiment_id": exp["experiment_id"], "name": "once"}
    first = await client.post(f"{API}/runs", json=body, headers=_key("run-1"))
    retry = await client.post(f"{API}/runs", json=body, headers=_key("run-1"))
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.content == first.content  # the same run id, byte for byte the same answer
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(database_url, "SELECT count(*) FROM run WHERE name = 'once'") == 1
    other = await client.post(f"{API}/runs", json=body, headers=_key("run-2"))
    assert other.json()["run_id"] != first.json()["run_id"]
    without = await client.post(f"{API}/runs", json=body)
    assert without.json()["run_id"] not in {first.json()["run_id"], other.json()["run_id"]}


async def test_the_same_key_with_another_body_or_target_is_a_409(
    client: httpx.AsyncClient, database_url: str
) -> None:
    exp = await create_experiment(client, "e")
    body = {"experiment_id": exp["experiment_id"], "name": "a"}
    ok(await client.post(f"{API}/runs", json=body, headers=_key("k")), 201)
    changed = {**body, "name": "b"}
    reused = await client.post(f"{API}/runs", json=changed, headers=_key("k"))
    assert assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")["idempotency_key"] == "k"
    # A version of model m1 never answers a request for model m2 (the path is in the digest).
    for name in ("m1", "m2"):
        await create_model(client, name)
    version = {"source": f"{SRC}/bucket/m"}
    url = f"{API}/models/%s/versions"
    ok(await client.post(url % "m1", json=version, headers=_key("v")), 201)
    assert_error(
        await client.post(url % "m2", json=version, headers=_key("v")),
        409,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert _count(database_url, "SELECT count(*) FROM run") == 1
    assert _count(database_url, "SELECT count(*) FROM model_version") == 1


async def test_versions_experiments_and_models_are_created_once_per_key(
    client: httpx.AsyncClient, database_url: str
) -> None:
    await create_model(client, "m")
    version = {"source": f"{SRC}/bucket/m"}
    answers = [
        await client.post(f"{API}/models/m/versions", json=version, headers=_key("v1"))
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert {a.json()["version"] for a in answers} == {1}
    next_one = await client.post(f"{API}/models/m/versions", json=version, headers=_key("v2"))
    assert next_one.json()["version"] == 2  # a new key is a new version, without a gap
    for path, body in (("experiments", {"name": "x"}), ("models", {"name": "y"})):
        first = await client.post(f"{API}/{path}", json=body, headers=_key("c"))
        retry = await client.post(f"{API}/{path}", json=body, headers=_key("c"))
        assert (first.status_code, retry.content) == (201, first.content)
        # Without the key, the retry is the name conflict it always was.
        assert (await client.post(f"{API}/{path}", json=body)).status_code == 409
    assert _count(database_url, "SELECT count(*) FROM model_version") == 2


async def test_a_failed_request_leaves_no_receipt(
    client: httpx.AsyncClient, database_url: str
) -> None:
    missing = {"experiment_id": 9999}
    for _ in range(2):
        response = await client.post(f"{API}/runs", json=missing, headers=_key("f"))
        assert_error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert _count(database_url, "SELECT count(*) FROM idempotency_receipt") == 0
    exp = await create_experiment(client, "later")
    body = {"experiment_id": exp["experiment_id"]}
    ok(await client.post(f"{API}/runs", json=body, headers=_key("f")), 201)


async def test_a_bad_key_is_a_400(client: httpx.AsyncClient) -> None:
    exp = await create_experiment(client, "e")
    body = {"experiment_id": exp["experiment_id"]}
    for bad in ("", "k" * 129):
        response = await client.post(f"{API}/runs", json=body, headers=_key(bad))
        assert_error(response, 400, "INVALID_PARAMETER_VALUE")


async def test_twenty_concurrent_requests_with_one_key_have_one_effect(
    client: httpx.AsyncClient, database_url: str
) -> None:
    exp = await create_experiment(client, "e")
    body = {"experiment_id": exp["experiment_id"], "name": "together"}
    answers = await asyncio.gather(
        *(client.post(f"{API}/runs", json=body, headers=_key("same")) for _ in range(20))
    )
    assert [a.status_code for a in answers] == [201] * 20
    assert len({a.content for a in answers}) == 1
    replayed = sum(a.headers.get("idempotent-replayed") == "true" for a in answers)
    rows = _count(database_url, "SELECT count(*) FROM run WHERE name = 'together'")
    print(f"\n20 concurrent run creations, one key: {rows} run, {replayed} replayed")
    assert (rows, replayed) == (1, 19)


async def test_keys_belong_to_a_token_and_a_workspace(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    # Two tokens of one workspace, the same key and body: two runs, neither sees the other's.
    exp = ok(
        await api.post(f"{API}/experiments", json={"name": "e"}, headers=bearer(people["ada"])),
        201,
    )
    body = {"experiment_id": exp["experiment_id"]}
    runs = [
        ok(await api.post(f"{API}/runs", json=body, headers=_key("k", **bearer(people[who]))), 201)
        for who in ("ed", "ada", "ed")
    ]
    assert runs[0]["run_id"] != runs[1]["run_id"]
    assert runs[2] == runs[0]  # ed's own retry replays ed's answer
    # One token in two workspaces, the same key and body: one experiment in each.
    made: list[Any] = []
    for workspace in ("default", "other", "default", "other"):
        headers = _key("exp", **bearer(people["root"]), **{"x-modelyard-workspace": workspace})
        answer = await api.post(f"{API}/experiments", json={"name": "x"}, headers=headers)
        made.append(ok(answer, 201))
    assert made[0]["experiment_id"] != made[1]["experiment_id"]
    assert (made[2], made[3]) == (made[0], made[1])
    assert _count(database_url, "SELECT count(*) FROM experiment WHERE name = 'x'") == 2
    scopes = _count(
        database_url, "SELECT count(DISTINCT (workspace_id, principal)) FROM idempotency_receipt"
    )
    assert scopes == 4  # ada's experiment "e" has no key; ed and ada in default, root twice


async def test_receipts_expire_with_gc(client: httpx.AsyncClient, database_url: str) -> None:
    exp = await create_experiment(client, "e")
    body = {"experiment_id": exp["experiment_id"]}
    first = ok(await client.post(f"{API}/runs", json=body, headers=_key("old")), 201)
    ok(await client.post(f"{API}/runs", json=body, headers=_key("new")), 201)
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        conn.execute(
            "UPDATE idempotency_receipt SET created_at = now() - interval '8 days'"
            " WHERE idempotency_key = 'old'"
        )
    now = dt.datetime.now(dt.UTC)
    report = await collect(
        database_url,
        DEFAULT_SCHEMA,
        deleted_before=now - dt.timedelta(days=30),
        receipts_before=now - dt.timedelta(days=7),  # the default TTL of modelyard gc
    )
    assert report.receipts == 1
    left = "SELECT string_agg(idempotency_key, ',') FROM idempotency_receipt"
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        assert conn.execute(left).fetchone() == ("new",)
    # Past its TTL a key is new again: a retry that late creates another run.
    again = ok(await client.post(f"{API}/runs", json=body, headers=_key("old")), 201)
    assert again["run_id"] != first["run_id"]
