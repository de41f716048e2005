"""The outbox: every registry and run change writes its event in its own transaction."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from psycopg.rows import dict_row

from modelyard.errors import NotFound
from modelyard.store import Store
from pool_support import pooled

pytestmark = pytest.mark.anyio


async def events(store: Store) -> list[dict[str, Any]]:
    async with pooled(store.pool) as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT event_seq, workspace_id, entity || '.' || action AS name, payload, actor,"
            " request_id FROM event ORDER BY event_seq"
        )
        return await cur.fetchall()


async def names(store: Store) -> list[str]:
    return [e["name"] for e in await events(store)]


async def test_every_registry_change_writes_its_event(store: Store) -> None:
    reg = store.registry
    exp = await store.experiments.create("e")
    run = await store.runs.create(exp.experiment_id)
    await reg.create_model("m", description="d", tags={"team": "a"})
    await reg.set_model_tag("m", "k", "v")
    await reg.delete_model_tag("m", "k")
    await reg.create_version("m", "s3://x", run_id=run.run_id, tags={"t": "1"})
    await reg.create_version("m", "s3://y")
    await reg.set_version_tag("m", 1, "k", "v")
    await reg.delete_version_tag("m", 1, "k")
    await reg.transition_stage("m", 1, "Production")
    await reg.set_alias("m", "champion", 1)
    await reg.set_alias("m", "champion", 2)
    await reg.delete_alias("m", "champion")
    await reg.delete_version("m", 2)
    await reg.rename_model("m", "m2")
    await store.runs.update(run.run_id, status="FINISHED")
    run2 = await store.runs.create(exp.experiment_id)
    await store.runs.update(run2.run_id, status="FAILED")
    await reg.delete_model("m2")
    found = await events(store)
    assert [e["name"] for e in found] == [
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
    payloads = [e["payload"] for e in found]
    assert payloads[0] == {"name": "m", "tags": {"team": "a"}, "description": "d"}
    assert payloads[3] == {
        "name": "m",
        "version": "1",
        "source": "s3://x",
        "run_id": run.run_id,
        "tags": {"t": "1"},
        "description": None,
    }
    assert payloads[4]["run_id"] is None
    assert payloads[5] == {"name": "m", "version": "1", "key": "k", "value": "v"}
    assert payloads[6] == {"name": "m", "version": "1", "key": "k"}
    assert payloads[7] == {
        "name": "m",
        "version": "1",
        "from_stage": "None",
        "to_stage": "Production",
    }
    assert payloads[8] == {"name": "m", "alias": "champion", "version": "1"}
    assert payloads[9] == {
        "name": "m",
        "alias": "champion",
        "version": "2",
        "previous_version": "1",
    }
    assert payloads[10] == {"name": "m", "alias": "champion"}
    assert payloads[12] == {"name": "m2", "previous_name": "m"}
    assert payloads[13]["run_id"] == run.run_id
    assert payloads[13]["status"] == "FINISHED"
    assert payloads[15] == {"name": "m2"}
    seqs = [e["event_seq"] for e in found]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert {e["workspace_id"] for e in found} == {1}


async def test_cascades_emit_only_the_parent_event(store: Store) -> None:
    reg = store.registry
    await reg.create_model("m")
    await reg.create_version("m", "s3://x")
    await reg.set_version_tag("m", 1, "k", "v")
    await reg.set_alias("m", "a", 1)
    await reg.set_model_tag("m", "k", "v")
    before = len(await events(store))
    await reg.delete_version("m", 1)  # takes its tag and alias with it
    await reg.delete_model("m")  # takes its tag with it
    assert (await names(store))[before:] == ["model_version.deleted", "registered_model.deleted"]


async def test_a_rolled_back_change_emits_nothing(store: Store) -> None:
    await store.registry.create_model("m")
    start = len(await events(store))
    with pytest.raises(NotFound):  # the version row is written, then the missing run fails it
        await store.registry.create_version("m", "s3://x", run_id="0" * 32)
    async with store.pool.connection() as conn:
        await conn.execute("SELECT set_config('modelyard.workspace', '1', true)")
        await conn.execute("INSERT INTO registered_model (name) VALUES ('rolled-back')")
        await conn.execute("UPDATE run SET status = 'FINISHED'")
        await conn.rollback()
    assert len(await events(store)) == start


async def test_events_carry_the_request_scope(store: Store) -> None:
    async with store.pool.connection() as conn:
        await conn.execute("SELECT set_config('modelyard.workspace', '1', true)")
        await conn.execute("SELECT set_config('modelyard.actor', 'alice', true)")
        await conn.execute("SELECT set_config('modelyard.request_id', 'req-1', true)")
        await conn.execute("INSERT INTO registered_model (name) VALUES ('scoped')")
    (event,) = await events(store)
    assert (event["actor"], event["request_id"]) == ("alice", "req-1")


async def test_sequence_is_in_commit_order(store: Store) -> None:
    """A reader following ``event_seq > last`` never finds a number below one it has seen."""
    await store.registry.create_model("m")
    await store.registry.create_version("m", "s3://x")
    writers, per_writer = 6, 15
    done = asyncio.Event()
    late: list[int] = []
    seen: list[int] = []

    async def write(w: int) -> None:
        for i in range(per_writer):
            await store.registry.set_version_tag("m", 1, f"w{w}", str(i))

    async def read() -> None:
        last = 0
        async with pooled(store.pool, autocommit=True) as conn:
            while True:
                finished = done.is_set()
                cur = await conn.execute(
                    "SELECT event_seq FROM event WHERE event_seq > %s ORDER BY event_seq", [last]
                )
                for (seq,) in await cur.fetchall():
                    seen.append(seq)
                    last = seq
                cur = await conn.execute(
                    "SELECT event_seq FROM event"
                    " WHERE event_seq < %s AND NOT (event_seq = ANY(%s))",
                    [last, seen],
                )
                late.extend(seq for (seq,) in await cur.fetchall())
                if finished:
                    return
                await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(write(w) for w in range(writers)))
    done.set()
    await reader
    assert late == []
    assert len(seen) == 2 + writers * per_writer
