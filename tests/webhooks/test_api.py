"""``/api/v1/webhooks``: CRUD, secrets shown once, and the URL rules at create, update, test and
delivery time (the SSRF corpus through the API), with real receivers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest
from ssrf_corpus import ALWAYS_REFUSED, CORPUS
from ssrf_corpus import resolver as ssrf_resolver
from webhook_receiver import Receiver
from webhook_support import SECRET, AppFactory, Running

from pool_support import pooled

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.216.34"


def answer(table: dict[str, list[str]]) -> Callable[[str, int], object]:
    async def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [PUBLIC])

    return resolve


def use_resolver(running: Running, table: dict[str, list[str]]) -> None:
    running.app.state.webhooks.resolver = answer(table)


async def test_crud_and_a_secret_shown_once(make_app: AppFactory) -> None:
    async with make_app() as running:
        api = running.api
        made = await api.post(
            "/api/v1/webhooks",
            json={"url": "https://ci.example.com/hook", "events": ["model_version.created"]},
        )
        assert made.status_code == 201, made.text
        hook = made.json()
        assert len(hook["secret"]) >= 32 and hook["has_secret"] is True
        assert hook["name"] == "https://ci.example.com/hook"
        path = f"/api/v1/webhooks/{hook['webhook_id']}"
        shown = (await api.get(path)).json()
        assert "secret" not in shown
        given = await running.create_webhook("https://two.example.com/h", ["run.failed"])
        assert "secret" not in given  # a secret the caller gave is not echoed
        first = (await api.get("/api/v1/webhooks", params={"limit": 1})).json()
        assert [h["webhook_id"] for h in first["items"]] == [hook["webhook_id"]]
        second = (
            await api.get(
                "/api/v1/webhooks", params={"limit": 1, "page_token": first["next_page_token"]}
            )
        ).json()
        assert [h["webhook_id"] for h in second["items"]] == [given["webhook_id"]]
        assert second["next_page_token"] is None
        changed = await api.patch(
            path, json={"status": "DISABLED", "events": ["run.finished", "run.failed"]}
        )
        assert changed.json()["status"] == "DISABLED"
        assert changed.json()["events"] == ["run.finished", "run.failed"]
        rotated = (await api.post(path + "/secret", json={})).json()
        assert len(rotated["secret"]) >= 32 and rotated["previous_secret_expires"] is None
        assert (await api.delete(path)).status_code == 204
        gone = await api.get(path)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"url": "https://x.example.com", "events": ["model.exploded"]}, "MALFORMED_REQUEST"),
        ({"url": "https://x.example.com", "events": []}, "MALFORMED_REQUEST"),
        ({"url": "https://x.example.com", "events": ["run.failed"], "x": 1}, "MALFORMED_REQUEST"),
        (
            {"url": "https://x.example.com", "events": ["run.failed"], "secret": "short"},
            "MALFORMED_REQUEST",
        ),
        ({"url": "ftp://x.example.com", "events": ["run.failed"]}, "MALFORMED_REQUEST"),
    ],
)
async def test_bad_bodies_are_400s(
    make_app: AppFactory, body: dict[str, object], code: str
) -> None:
    async with make_app() as running:
        response = await running.api.post("/api/v1/webhooks", json=body)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code


async def test_bad_and_missing_ids(make_app: AppFactory) -> None:
    async with make_app() as running:
        bad = await running.api.get("/api/v1/webhooks/not-an-id")
        assert bad.status_code == 400
        missing = await running.api.get("/api/v1/webhooks/" + "0" * 32)
        assert missing.status_code == 404
        dead = await running.api.post(
            "/api/v1/webhook-deliveries/00000000-0000-0000-0000-000000000000/redeliver"
        )
        assert dead.status_code == 404


def check_refused(response: httpx.Response, url: str, *, schema: bool = True) -> None:
    """A 422 from the URL rules; or, when the body is checked first, a 400 from its schema (the
    URL's documented form)."""
    allowed = {(422, "UNSAFE_WEBHOOK_URL")} | ({(400, "MALFORMED_REQUEST")} if schema else set())
    found = (response.status_code, response.json()["error"]["code"])
    assert found in allowed, (url, response.text)


@pytest.mark.parametrize("allow_private", [False, True])
async def test_ssrf_corpus_refused_at_create_update_and_test(
    make_app: AppFactory, allow_private: bool
) -> None:
    """Every URL of the corpus; with --webhook-allow-private, those refused even then."""
    corpus = ALWAYS_REFUSED if allow_private else [url for url, _ in CORPUS]
    async with make_app(webhook_allow_private=allow_private) as running:
        running.app.state.webhooks.resolver = ssrf_resolver
        hook = await running.create_webhook("https://ci.example.com/hook", ["run.failed"])
        path = f"/api/v1/webhooks/{hook['webhook_id']}"
        for url in corpus:
            created = await running.api.post(
                "/api/v1/webhooks", json={"url": url, "events": ["run.failed"]}
            )
            check_refused(created, url)
            check_refused(await running.api.patch(path, json={"url": url}), url)
            assert (await running.api.get(path)).json()["url"] == "https://ci.example.com/hook"
            # The stored URL went bad (a row written around the API): test refuses it too.
            async with pooled(running.store.pool) as conn:
                await conn.execute("UPDATE webhook SET url = %s", [url])
            check_refused(await running.api.post(path + "/test", json={}), url, schema=False)
            async with pooled(running.store.pool) as conn:
                await conn.execute("UPDATE webhook SET url = 'https://ci.example.com/hook'")
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT count(*) FROM webhook")
            assert await cur.fetchone() == (1,)


@pytest.mark.parametrize("allow_private", [False, True])
async def test_ssrf_corpus_refused_at_delivery_time(
    make_app: AppFactory, allow_private: bool
) -> None:
    """Rows written around the API (or before a rule existed) are checked again on delivery:
    every attempt fails with the URL rule's reason, never with a connection error."""
    corpus = ALWAYS_REFUSED if allow_private else [url for url, _ in CORPUS]
    async with make_app(webhook_allow_private=allow_private) as running:
        running.app.state.webhooks.resolver = ssrf_resolver
        async with pooled(running.store.pool) as conn:
            for url in corpus:
                await conn.execute(
                    "INSERT INTO webhook (workspace_id, name, url, events) "
                    "VALUES (1, %s, %s, ARRAY['registered_model.created'])",
                    [url, url],
                )
        await running.store.registry.create_model("m")
        errors = await wait_for_errors(running, len(corpus))
    assert set(errors) == set(corpus)
    for url, error in errors.items():
        assert error.startswith("webhook "), (url, error)  # refused by the rules, not the network


async def wait_for_errors(running: Running, count: int, timeout: float = 30.0) -> dict[str, str]:
    """The first attempt error of each webhook's URL, once ``count`` webhooks have one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    found: dict[str, str] = {}
    while loop.time() < deadline:
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute(
                "SELECT DISTINCT ON (w.url) w.url, a.error FROM webhook_attempt a "
                "JOIN webhook_delivery d USING (delivery_id) JOIN webhook w USING (webhook_id) "
                "ORDER BY w.url, a.attempt"
            )
            found = {str(url): str(error) for url, error in await cur.fetchall()}
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} of {count} webhooks have a failed attempt")


async def test_refused_at_delivery_time_when_dns_changes(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    table = {"hooks.example.com": [PUBLIC]}
    async with make_app(webhook_allow_private=False) as running:
        use_resolver(running, table)
        await running.create_webhook(
            f"https://hooks.example.com:{receiver.port}/hook", ["registered_model.created"]
        )
        table["hooks.example.com"] = ["127.0.0.1"]  # DNS rebinding after the check
        await running.store.registry.create_model("m")
        error = await wait_for_error(running)
    assert "loopback" in error
    assert receiver.received == []


async def wait_for_error(running: Running, timeout: float = 30.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT error FROM webhook_attempt WHERE error IS NOT NULL")
            row = await cur.fetchone()
        if row is not None:
            return str(row[0])
        await asyncio.sleep(0.05)
    raise AssertionError("no failed attempt recorded")


async def test_redirects_are_not_followed(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    inside = receivers()
    redirecting = receivers(responder=lambda n, r: (302, {"Location": inside.url}, b""))
    async with make_app() as running:
        hook = await running.create_webhook(redirecting.url, ["registered_model.created"])
        tested = await running.api.post(f"/api/v1/webhooks/{hook['webhook_id']}/test", json={})
        assert tested.json() == {
            "success": False,
            "response_status": 302,
            "error_message": "receiver answered HTTP 302",
        }
        await running.store.registry.create_model("m")
        await asyncio.to_thread(redirecting.wait_for, 3)  # the test, then retries
    assert inside.received == []


async def test_connection_pinned_to_the_checked_address(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers(responder=lambda n, r: (200, {}, b"internal admin page"))
    async with make_app() as running:
        use_resolver(running, {"receiver.example.test": ["127.0.0.1"]})
        hook = await running.create_webhook(
            f"http://receiver.example.test:{receiver.port}/in?x=1", ["model_version.created"]
        )
        tested = await running.api.post(
            f"/api/v1/webhooks/{hook['webhook_id']}/test", json={"event": "run.finished"}
        )
        assert tested.json() == {"success": True, "response_status": 200, "error_message": None}
        assert "internal admin page" not in tested.text  # the body is never echoed
    (got,) = receiver.received
    assert got.headers["host"] == f"receiver.example.test:{receiver.port}"
    assert got.path == "/in?x=1"
    assert (got.json["entity"], got.json["action"]) == ("run", "finished")
    assert got.headers["x-mlflow-signature"].startswith("v1,")
    assert SECRET  # signed with the secret created above (verified in test_delivery.py)
