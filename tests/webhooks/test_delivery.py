"""Delivery end to end: real receivers on 127.0.0.1, MLflow's signature check, retries, order."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable

import pytest
from webhook_receiver import (
    Receiver,
    verify_any,
    verify_mlflow_signature,
    verify_timestamp_freshness,
)
from webhook_support import ALL_EVENTS, SECRET, AppFactory

from pool_support import pooled

pytestmark = pytest.mark.anyio

MLFLOW_HEADERS = ("x-mlflow-delivery-id", "x-mlflow-timestamp", "x-mlflow-signature")


async def every_change(store: object) -> None:
    """One change of each kind the outbox reports, in this order."""
    reg = store.registry  # type: ignore[attr-defined]
    runs = store.runs  # type: ignore[attr-defined]
    exp = await store.experiments.create("e")  # type: ignore[attr-defined]
    run = await runs.create(exp.experiment_id)
    await reg.create_model("m", tags={"t": "1"})
    await reg.set_model_tag("m", "k", "v")
    await reg.delete_model_tag("m", "k")
    await reg.create_version("m", "s3://x", run_id=run.run_id)
    await reg.create_version("m", "s3://y")
    await reg.set_version_tag("m", 1, "k", "v")
    await reg.delete_version_tag("m", 1, "k")
    await reg.transition_stage("m", 1, "Staging")
    await reg.set_alias("m", "champion", 1)
    await reg.set_alias("m", "champion", 2)
    await reg.delete_alias("m", "champion")
    await reg.delete_version("m", 2)
    await reg.rename_model("m", "m2")
    await runs.update(run.run_id, status="FINISHED")
    failed = await runs.create(exp.experiment_id)
    await runs.update(failed.run_id, status="FAILED")
    await reg.delete_model("m2")


EXPECTED = [
    "registered_model.created",
    "registered_model_tag.set",
    "registered_model_tag.deleted",
    "model_version.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version.stage_transitioned",
    "model_version_alias.created",
    "model_version_alias.moved",
    "model_version_alias.deleted",
    "model_version.deleted",
    "registered_model.renamed",
    "run.finished",
    "run.failed",
    "registered_model.deleted",
]


def name_of(body: dict[str, object]) -> str:
    return f"{body['entity']}.{body['action']}"


async def test_every_event_arrives_signed_as_mlflow_documents(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    assert sorted(set(EXPECTED)) == sorted(ALL_EVENTS)
    receiver = receivers()
    async with make_app() as running:
        await running.create_webhook(receiver.url)
        await every_change(running.store)
        got = await asyncio.to_thread(receiver.wait_for, len(EXPECTED))
    bodies = [r.json for r in got]
    assert [name_of(b) for b in bodies] == EXPECTED
    for request in got:
        assert all(h in request.headers for h in MLFLOW_HEADERS)
        assert request.headers["content-type"] == "application/json"
        assert verify_timestamp_freshness(request.headers["x-mlflow-timestamp"])
        assert verify_mlflow_signature(
            request.body,
            request.headers["x-mlflow-signature"],
            SECRET,
            request.headers["x-mlflow-delivery-id"],
            request.headers["x-mlflow-timestamp"],
        )
        assert not verify_mlflow_signature(
            request.body + " ",
            request.headers["x-mlflow-signature"],
            SECRET,
            request.headers["x-mlflow-delivery-id"],
            request.headers["x-mlflow-timestamp"],
        )
    created = bodies[3]
    assert list(created) == ["entity", "action", "timestamp", "data"]
    assert list(created["data"]) == ["name", "version", "source", "run_id", "tags", "description"]
    assert created["data"]["version"] == "1"
    assert bodies[8]["data"] == {"name": "m", "alias": "champion", "version": "1"}
    assert len({r.delivery_id for r in got}) == len(got)


async def test_an_alias_move_reaches_an_mlflow_subscriber_as_created(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    async with make_app() as running:
        await running.create_webhook(receiver.url, ["model_version_alias.created"])
        reg = running.store.registry
        await reg.create_model("m")
        await reg.create_version("m", "s3://x")
        await reg.create_version("m", "s3://y")
        await reg.set_alias("m", "champion", 1)
        await reg.set_alias("m", "champion", 2)
        got = await asyncio.to_thread(receiver.wait_for, 2)
    assert [(name_of(r.json), r.json["data"]["version"]) for r in got] == [
        ("model_version_alias.created", "1"),
        ("model_version_alias.created", "2"),
    ]


async def test_a_rolled_back_change_is_never_delivered(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    async with make_app() as running:
        await running.create_webhook(receiver.url, ["registered_model.created"])
        async with running.store.pool.connection() as conn:
            await conn.execute("SELECT set_config('modelyard.workspace', '1', true)")
            await conn.execute("INSERT INTO registered_model (name) VALUES ('rolled-back')")
            await conn.rollback()
        await running.store.registry.create_model("kept")
        (got,) = await asyncio.to_thread(receiver.wait_for, 1)
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT count(*) FROM webhook_delivery")
            assert await cur.fetchone() == (1,)
    assert got.json["data"]["name"] == "kept"


async def test_receiver_down_then_up_gets_everything_in_order(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    """While the port refuses connections and then answers 503, every event waits its turn."""
    down = receivers(listening=False)
    flaky = receivers(responder=lambda n, r: (503, {}, b"busy") if n % 3 else (200, {}, b""))
    count = 12
    async with make_app() as running:
        await running.create_webhook(down.url, ["registered_model.created"])
        await running.create_webhook(flaky.url, ["registered_model.created"])
        for i in range(count):
            await running.store.registry.create_model(f"m{i:02d}")
        first = await asyncio.to_thread(flaky.wait_for, 3)
        assert first[0].delivery_id == first[1].delivery_id  # a 503 is retried, same id
        down.up()
        got_down = await asyncio.to_thread(down.wait_for, count)
        delivered = await wait_delivered(running, 2 * count)
    assert delivered == 2 * count
    for receiver in (down, flaky):
        names: list[str] = []
        ids: dict[str, str] = {}
        for request in receiver.received:
            name = request.json["data"]["name"]
            assert ids.setdefault(name, request.delivery_id) == request.delivery_id
            if not names or names[-1] != name:
                names.append(name)
        assert names == [f"m{i:02d}" for i in range(count)]
    assert len(got_down) == count


async def wait_delivered(running: object, count: int, timeout: float = 30.0) -> int:
    """Bounded wait until ``count`` deliveries are recorded as delivered."""
    store = running.store  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        async with pooled(store.pool) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM webhook_delivery WHERE state = 'delivered'"
            )
            row = await cur.fetchone()
        if row[0] >= count or loop.time() > deadline:
            return int(row[0])
        await asyncio.sleep(0.05)


async def test_two_dispatchers_never_make_one_attempt_twice(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    from modelyard.db.pool import open_pool
    from modelyard.webhooks.dispatcher import Dispatcher

    hooks = [receivers() for _ in range(4)]
    async with make_app() as running:
        for hook in hooks:
            await running.create_webhook(hook.url, ["model_version.created"])
        app = running.app
        settings = app.state.settings
        conninfo = app.state.conninfo
        pool = await open_pool(conninfo, settings.schema, min_size=1, max_size=4)
        stop = asyncio.Event()
        second = Dispatcher(pool, app.state.webhooks, conninfo, settings)
        task = asyncio.create_task(second.run(stop))
        try:
            await running.store.registry.create_model("m")
            versions = 25
            await asyncio.gather(
                *(running.store.registry.create_version("m", f"s3://{i}") for i in range(versions))
            )
            for hook in hooks:
                await asyncio.to_thread(hook.wait_for, versions)
            assert await wait_delivered(running, 4 * versions) == 4 * versions
        finally:
            stop.set()
            await task
            await pool.close()
    for hook in hooks:
        per_id = Counter(r.delivery_id for r in hook.received)
        assert set(per_id.values()) == {1}, "an attempt was made twice"
        versions_seen = [int(r.json["data"]["version"]) for r in hook.received]
        assert versions_seen == sorted(versions_seen)


async def test_dead_letter_after_the_horizon_then_redeliver(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    healthy = {"ok": False}
    receiver = receivers(
        responder=lambda n, r: (200, {}, b"") if healthy["ok"] else (500, {}, b"secret page")
    )
    async with make_app(webhook_retry_horizon=0.5) as running:
        hook = await running.create_webhook(receiver.url, ["registered_model.created"])
        await running.store.registry.create_model("m")
        dead = await wait_state(running, "dead")
        listed = await running.api.get("/api/v1/webhook-deliveries", params={"state": "dead"})
        assert [d["delivery_id"] for d in listed.json()["items"]] == [dead["delivery_id"]]
        assert dead["webhook_id"] == hook["webhook_id"]
        assert dead["last_response_code"] == 500
        detail = (await running.api.get(f"/api/v1/webhook-deliveries/{dead['delivery_id']}")).json()
        assert len(detail["attempt_log"]) == detail["attempts"] >= 2
        assert "secret page" not in json.dumps(detail)  # the receiver's body is never shown
        healthy["ok"] = True
        again = await running.api.post(
            f"/api/v1/webhook-deliveries/{dead['delivery_id']}/redeliver"
        )
        assert again.status_code == 200 and again.json()["state"] == "pending"
        assert await wait_delivered(running, 1) == 1
        twice = await running.api.post(
            f"/api/v1/webhook-deliveries/{dead['delivery_id']}/redeliver"
        )
        assert twice.status_code == 409
    ids = {r.delivery_id for r in receiver.received}
    assert ids == {dead["delivery_id"]}
    assert receiver.received[-1].headers["x-mlflow-delivery-id"] == dead["delivery_id"]


async def wait_state(running: object, state: str, timeout: float = 30.0) -> dict[str, object]:
    api = running.api  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = (await api.get("/api/v1/webhook-deliveries", params={"state": state})).json()
        if found["items"]:
            return dict(found["items"][0])
        await asyncio.sleep(0.05)
    raise AssertionError(f"no delivery became {state} in {timeout} s")


async def test_rotation_overlap_signs_with_both_secrets(
    make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers()
    new_secret = "the-new-secret-after-rotation"
    async with make_app() as running:
        hook = await running.create_webhook(receiver.url, ["registered_model.created"])
        rotated = await running.api.post(
            f"/api/v1/webhooks/{hook['webhook_id']}/secret",
            json={"secret": new_secret, "overlap_seconds": 3600},
        )
        assert rotated.status_code == 200 and "secret" not in rotated.json()
        assert rotated.json()["previous_secret_expires"] is not None
        await running.store.registry.create_model("during-overlap")
        (during,) = await asyncio.to_thread(receiver.wait_for, 1)
        await running.api.post(
            f"/api/v1/webhooks/{hook['webhook_id']}/secret", json={"secret": new_secret * 2}
        )
        await running.store.registry.create_model("after")
        after = (await asyncio.to_thread(receiver.wait_for, 2))[1]
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT secret, previous_secret FROM webhook")
            stored = await cur.fetchone()
    header = during.headers["x-mlflow-signature"]
    entries = header.split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    args = (during.delivery_id, during.headers["x-mlflow-timestamp"])
    assert verify_any(during.body, header, new_secret, *args)
    assert verify_any(during.body, header, SECRET, *args)
    assert verify_mlflow_signature(during.body, entries[0], new_secret, *args)
    # Without an overlap one entry only, which MLflow's documented check accepts as is.
    assert verify_mlflow_signature(
        after.body,
        after.headers["x-mlflow-signature"],
        new_secret * 2,
        after.delivery_id,
        after.headers["x-mlflow-timestamp"],
    )
    assert stored is not None and stored[1] is None
    assert new_secret.encode() not in bytes(stored[0])  # encrypted at rest
