"""Run params (immutable, all-or-nothing, race-free) and tags against a real PostgreSQL."""

from __future__ import annotations

import random
import uuid
from typing import Any

import anyio
import pytest

from modelyard.errors import InvalidInput, InvalidState, NotFound, ParamConflict
from modelyard.store import Store
from modelyard.store._base import Conn
from modelyard.store.run_data import RunState
from pool_support import pooled

pytestmark = pytest.mark.anyio


async def _rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()


async def _params(store: Store, run_id: str) -> dict[str, str]:
    rows = await _rows(store, "SELECT key, value FROM run_param WHERE run_id = %s", run_id)
    return dict(rows)


async def _tags(store: Store, run_id: str) -> dict[str, str]:
    rows = await _rows(store, "SELECT key, value FROM run_tag WHERE run_id = %s", run_id)
    return dict(rows)


async def _run(store: Store, **kwargs: Any) -> str:
    eid = (await store.experiments.get_or_create("exp")).experiment_id
    return (await store.runs.create(eid, **kwargs)).run_id


async def test_log_params_and_read_back(store: Store) -> None:
    rid = await _run(store)
    await store.runs.log_params(rid, {"lr": "0.01", "layers": "3"})
    await store.runs.log_params(rid, {"opt": "adam"})
    assert (await store.runs.get(rid)).params == {"lr": "0.01", "layers": "3", "opt": "adam"}


async def test_same_value_again_is_a_no_op(store: Store) -> None:
    rid = await _run(store)
    await store.runs.log_params(rid, {"lr": "0.01"})
    await store.runs.log_params(rid, {"lr": "0.01", "new": "1"})
    assert await _params(store, rid) == {"lr": "0.01", "new": "1"}


async def test_different_value_is_param_conflict_naming_key_and_values(store: Store) -> None:
    rid = await _run(store)
    await store.runs.log_params(rid, {"lr": "0.01"})
    with pytest.raises(ParamConflict) as caught:
        await store.runs.log_params(rid, {"lr": "0.02"})
    err = caught.value
    assert (err.details["key"], err.details["old_value"], err.details["new_value"]) == (
        "lr",
        "0.01",
        "0.02",
    )
    assert "lr" in err.message and "0.01" in err.message and "0.02" in err.message
    assert await _params(store, rid) == {"lr": "0.01"}


async def test_conflicting_batch_writes_nothing(store: Store) -> None:
    rid = await _run(store)
    await store.runs.log_params(rid, {"b": "1", "d": "1"})
    with pytest.raises(ParamConflict) as caught:
        await store.runs.log_params(rid, {"a": "new", "b": "1", "c": "new", "d": "2", "e": "new"})
    assert caught.value.details["conflicts"] == [{"key": "d", "old_value": "1", "new_value": "2"}]
    assert await _params(store, rid) == {"b": "1", "d": "1"}


async def test_concurrent_loggers_of_one_key_exactly_one_wins(store: Store) -> None:
    rid = await _run(store)
    winners: list[str] = []
    losers: list[ParamConflict] = []

    async def log(value: str) -> None:
        try:
            await store.runs.log_params(rid, {"seed": value, f"own_{value}": value})
        except ParamConflict as exc:
            losers.append(exc)
        else:
            winners.append(value)

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(log, f"v{i}")
    assert len(winners) == 1 and len(losers) == 7
    (winner,) = winners
    # The losers' batches rolled back entirely: only the winner's own key is there.
    assert await _params(store, rid) == {"seed": winner, f"own_{winner}": winner}
    assert all(exc.details["old_value"] == winner for exc in losers)


async def test_concurrent_overlapping_batches_do_not_deadlock(store: Store) -> None:
    # Large batches of the same keys in different orders, so that inserts overlap: without a
    # fixed insert order two transactions would each wait for a key the other holds.
    rid = await _run(store)
    expected: dict[str, str] = {}
    for round_ in range(5):
        params = {f"r{round_}_k{i:03d}": str(i) for i in range(1000)}
        expected |= params

        async def log(seed: int, params: dict[str, str] = params) -> None:
            items = list(params.items())
            random.Random(seed).shuffle(items)
            await store.runs.log_params(rid, dict(items))

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for seed in range(8):
                    tg.start_soon(log, seed)
    assert await _params(store, rid) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"": "v"},
        {"bad key!": "v"},
        {"../up": "v"},
        {"k" * 251: "v"},
        {"ok": "v" * 6001},
        {"ok": 1},
        {"ok": "nul\x00"},
        {f"k{i}": "v" for i in range(1001)},
    ],
)
async def test_invalid_params_write_nothing(store: Store, params: dict[str, Any]) -> None:
    rid = await _run(store)
    with pytest.raises(InvalidInput):
        await store.runs.log_params(rid, {"fine": "1", **params})
    assert await _params(store, rid) == {}


async def test_param_at_the_limits_is_accepted(store: Store) -> None:
    rid = await _run(store)
    params = {f"k{i}": "v" for i in range(999)} | {"k" * 250: "x" * 6000}
    await store.runs.log_params(rid, params)
    assert await _params(store, rid) == params


async def test_params_of_unknown_run(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.runs.log_params(uuid.uuid4().hex, {"a": "1"})
    with pytest.raises(InvalidInput):
        await store.runs.log_params("nope", {"a": "1"})


async def test_set_tags_overwrites_and_delete_tag(store: Store) -> None:
    rid = await _run(store, tags={"a": "1"})
    await store.runs.set_tags(rid, {"a": "2", "b": "3"})
    assert (await store.runs.get(rid)).tags == {"a": "2", "b": "3"}
    await store.runs.delete_tag(rid, "a")
    assert (await store.runs.get(rid)).tags == {"b": "3"}


async def test_tag_errors_write_nothing(store: Store) -> None:
    rid = await _run(store, tags={"a": "1"})
    with pytest.raises(NotFound):
        await store.runs.delete_tag(rid, "missing")
    with pytest.raises(InvalidInput):
        await store.runs.delete_tag(rid, "bad key!")
    with pytest.raises(InvalidInput):
        await store.runs.set_tags(rid, {"ok": "v", "bad key!": "v"})
    with pytest.raises(InvalidInput):
        await store.runs.set_tags(rid, {"ok": "v" * 8001})
    with pytest.raises(InvalidInput):
        await store.runs.set_tags(rid, {f"k{i}": "v" for i in range(1001)})
    with pytest.raises(NotFound):
        await store.runs.set_tags(uuid.uuid4().hex, {"a": "1"})
    with pytest.raises(NotFound):
        await store.runs.delete_tag(uuid.uuid4().hex, "a")
    assert await _tags(store, rid) == {"a": "1"}


async def test_writes_to_deleted_run_are_invalid_state(store: Store) -> None:
    rid = await _run(store, tags={"a": "1"})
    await store.runs.log_params(rid, {"p": "1"})
    await store.runs.delete(rid)
    with pytest.raises(InvalidState):
        await store.runs.log_params(rid, {"q": "2"})
    with pytest.raises(InvalidState):
        await store.runs.set_tags(rid, {"a": "2"})
    with pytest.raises(InvalidState):
        await store.runs.delete_tag(rid, "a")
    with pytest.raises(InvalidState):
        await store.runs.log_batch(rid, params={"q": "2"}, tags={"b": "1"})
    assert await _params(store, rid) == {"p": "1"}
    assert await _tags(store, rid) == {"a": "1"}


async def test_log_batch_writes_params_tags_and_calls_the_metrics_hook(store: Store) -> None:
    rid = await _run(store)
    seen: list[RunState] = []

    async def hook(conn: Conn, state: RunState) -> None:
        # Runs inside the batch's transaction: it sees the params just written.
        cur = await conn.execute(
            "SELECT count(*) FROM run_param WHERE run_id = %s", (state.run_id,)
        )
        row = await cur.fetchone()
        assert row is not None and row[0] == 1
        seen.append(state)

    await store.runs.log_batch(rid, params={"p": "1"}, tags={"t": "2"}, metrics_hook=hook)
    run = await store.runs.get(rid)
    assert (run.params, run.tags) == ({"p": "1"}, {"t": "2"})
    (state,) = seen
    assert (state.run_id.hex, state.experiment_id, state.status) == (
        rid,
        run.experiment_id,
        "RUNNING",
    )
    assert state.start_time_ms == run.start_time


async def test_log_batch_is_all_or_nothing(store: Store) -> None:
    rid = await _run(store, tags={"t": "old"})
    await store.runs.log_params(rid, {"p": "1"})
    with pytest.raises(ParamConflict):
        await store.runs.log_batch(rid, params={"p": "2", "q": "1"}, tags={"t": "new"})
    with pytest.raises(InvalidInput):
        await store.runs.log_batch(rid, params={"q": "1"}, tags={"bad key!": "x"})

    async def failing_hook(conn: Conn, state: RunState) -> None:
        raise InvalidInput("bad metric", field="metrics")

    with pytest.raises(InvalidInput):
        await store.runs.log_batch(
            rid, params={"q": "1"}, tags={"t": "new"}, metrics_hook=failing_hook
        )
    assert await _params(store, rid) == {"p": "1"}
    assert await _tags(store, rid) == {"t": "old"}


async def test_log_batch_with_nothing_checks_the_run(store: Store) -> None:
    rid = await _run(store)
    await store.runs.log_batch(rid)
    with pytest.raises(NotFound):
        await store.runs.log_batch(uuid.uuid4().hex)
