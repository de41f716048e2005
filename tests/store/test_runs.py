"""The runs repository against a real PostgreSQL: lifecycle, soft delete, listing, hydration."""

from __future__ import annotations

import math
import re
import time
import uuid
from typing import Any

import anyio
import psycopg
import pytest

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.sql import query
from modelyard.store import Run, Store
from modelyard.store.pagination import encode_cursor
from modelyard.store.run_data import load_runs

pytestmark = pytest.mark.anyio


async def _rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with store.runs.transaction() as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()


async def _execute(store: Store, sql: str, *params: Any) -> None:
    async with store.runs.transaction() as conn:
        await conn.execute(sql, params)


async def _count_runs(store: Store) -> int:
    return int((await _rows(store, "SELECT count(*) FROM run"))[0][0])


async def _experiment(store: Store, name: str = "exp", **kwargs: Any) -> int:
    return (await store.experiments.create(name, **kwargs)).experiment_id


def _now_ms() -> int:
    return int(time.time() * 1000)


async def test_create_defaults(store: Store) -> None:
    eid = await _experiment(store)
    before = _now_ms()
    run = await store.runs.create(eid)
    assert re.fullmatch(r"[0-9a-f]{32}", run.run_id)
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", run.name)
    assert run.experiment_id == eid
    assert run.status == "RUNNING"
    assert before - 5000 <= run.start_time <= _now_ms() + 5000
    assert run.end_time is None
    assert run.lifecycle_stage == "active"
    assert (run.user_id, run.artifact_uri, run.parent_run_id) == (None, None, None)
    assert (run.params, run.tags, run.metrics) == ({}, {}, {})
    assert await store.runs.get(run.run_id) == run


async def test_create_with_everything(store: Store) -> None:
    eid = await _experiment(store, artifact_location="s3://bucket/exp/")
    parent = await store.runs.create(eid, name="parent")
    run = await store.runs.create(
        eid,
        name="child",
        start_time=1_700_000_000_123,
        tags={"k": "v"},
        parent_run_id=parent.run_id,
        user_id="ada",
    )
    assert run.name == "child"
    assert run.start_time == 1_700_000_000_123
    assert run.tags == {"k": "v"}
    assert run.parent_run_id == parent.run_id
    assert run.user_id == "ada"
    assert run.artifact_uri == f"s3://bucket/exp/{run.run_id}/artifacts"


async def test_create_takes_name_from_run_name_tag(store: Store) -> None:
    eid = await _experiment(store)
    run = await store.runs.create(eid, tags={"mlflow.runName": "from-tag"})
    assert run.name == "from-tag"


async def test_create_in_unknown_or_deleted_experiment(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.runs.create(999)
    eid = await _experiment(store)
    await store.experiments.delete(eid)
    with pytest.raises(InvalidState):
        await store.runs.create(eid)
    assert await _count_runs(store) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "n" * 257},
        {"start_time": -1},
        {"start_time": "0"},
        {"start_time": 10**18},
        {"tags": {"bad key!": "v"}},
        {"parent_run_id": "not-a-uuid"},
        {"user_id": "u" * 257},
    ],
)
async def test_create_invalid_input_writes_nothing(store: Store, kwargs: dict[str, Any]) -> None:
    eid = await _experiment(store)
    with pytest.raises(InvalidInput):
        await store.runs.create(eid, **kwargs)
    assert await _count_runs(store) == 0


async def test_create_unknown_parent_writes_nothing(store: Store) -> None:
    eid = await _experiment(store)
    with pytest.raises(NotFound):
        await store.runs.create(eid, parent_run_id=uuid.uuid4().hex, tags={"k": "v"})
    assert await _count_runs(store) == 0
    assert await _rows(store, "SELECT * FROM run_tag") == []


async def test_get_accepts_dashed_id_and_errors(store: Store) -> None:
    run = await store.runs.create(await _experiment(store))
    assert await store.runs.get(str(uuid.UUID(run.run_id))) == run
    with pytest.raises(NotFound):
        await store.runs.get(uuid.uuid4().hex)
    with pytest.raises(InvalidInput):
        await store.runs.get("zz")


async def test_get_returns_latest_metrics(store: Store) -> None:
    eid = await _experiment(store)
    run = await store.runs.create(eid)
    await _execute(
        store,
        "INSERT INTO metric_series (run_id, key, experiment_id, last_value, last_step, "
        "last_timestamp) VALUES (%s, 'loss', %s, 0.25, 7, 1700000000000), "
        "(%s, 'nan', %s, 'NaN', 1, 5)",
        uuid.UUID(run.run_id),
        eid,
        uuid.UUID(run.run_id),
        eid,
    )
    got = await store.runs.get(run.run_id)
    assert set(got.metrics) == {"loss", "nan"}
    loss = got.metrics["loss"]
    assert (loss.value, loss.step, loss.timestamp) == (0.25, 7, 1_700_000_000_000)
    assert math.isnan(got.metrics["nan"].value)


async def test_finishing_sets_end_time_now(store: Store) -> None:
    run = await store.runs.create(await _experiment(store))
    finished = await store.runs.update(run.run_id, status="FINISHED")
    assert finished.status == "FINISHED"
    assert finished.end_time is not None
    assert run.start_time <= finished.end_time <= _now_ms() + 5000


@pytest.mark.parametrize("status", ["FAILED", "KILLED"])
async def test_terminal_status_with_explicit_end_time(store: Store, status: str) -> None:
    run = await store.runs.create(await _experiment(store), start_time=1_000)
    ended = await store.runs.update(run.run_id, status=status, end_time=2_500)
    assert (ended.status, ended.end_time) == (status, 2_500)


async def test_future_start_time_never_ends_before_it_starts(store: Store) -> None:
    future = _now_ms() + 3_600_000
    run = await store.runs.create(await _experiment(store), start_time=future)
    assert (await store.runs.update(run.run_id, status="FINISHED")).end_time == future


async def test_reopen_clears_end_time_and_refinish(store: Store) -> None:
    run = await store.runs.create(await _experiment(store), start_time=1_000)
    await store.runs.update(run.run_id, status="FINISHED", end_time=2_000)
    reopened = await store.runs.update(run.run_id, status="RUNNING")
    assert (reopened.status, reopened.end_time) == ("RUNNING", None)
    overwritten = await store.runs.update(run.run_id, status="FAILED", end_time=3_000)
    assert (overwritten.status, overwritten.end_time) == ("FAILED", 3_000)
    # A new end time alone is allowed on a run that has ended.
    assert (await store.runs.update(run.run_id, end_time=4_000)).end_time == 4_000


async def test_rename_keeps_status_and_end_time(store: Store) -> None:
    run = await store.runs.create(await _experiment(store), start_time=1_000)
    await store.runs.update(run.run_id, status="FINISHED", end_time=2_000)
    renamed = await store.runs.update(run.run_id, name="better")
    assert (renamed.name, renamed.status, renamed.end_time) == ("better", "FINISHED", 2_000)


async def test_update_errors_change_nothing(store: Store) -> None:
    run = await store.runs.create(await _experiment(store), start_time=10_000)
    rid = run.run_id
    with pytest.raises(InvalidInput):
        await store.runs.update(rid, status="DONE")
    with pytest.raises(InvalidState):  # a RUNNING run has no end: the stored status decides
        await store.runs.update(rid, end_time=20_000)
    with pytest.raises(InvalidInput):  # the body contradicts itself
        await store.runs.update(rid, status="RUNNING", end_time=20_000)
    with pytest.raises(InvalidState, match="before the run's start_time 10000"):
        await store.runs.update(rid, status="FINISHED", end_time=5_000)
    with pytest.raises(InvalidInput):
        await store.runs.update(rid, name="")
    with pytest.raises(NotFound):
        await store.runs.update(uuid.uuid4().hex, status="FINISHED")
    assert await store.runs.get(rid) == run


async def test_end_time_in_the_start_millisecond_is_kept_at_the_start(store: Store) -> None:
    """A run started by the server has a start in microseconds; an end_time equal to the start
    as the API shows it (milliseconds, rounded down) is not before it."""
    run = await store.runs.create(await _experiment(store))
    async with store.pool.connection() as conn:  # a start with microseconds, as now() gives
        await conn.execute(
            "UPDATE run SET start_time = start_time + interval '777 microseconds'"
            " WHERE run_id = %s",
            [uuid.UUID(run.run_id)],
        )
    shown = await store.runs.get(run.run_id)
    ended = await store.runs.update(run.run_id, status="FINISHED", end_time=shown.start_time)
    assert ended.end_time == shown.start_time


async def test_delete_restore_round_trip(store: Store) -> None:
    run = await store.runs.create(await _experiment(store))
    await store.runs.delete(run.run_id)
    assert (await store.runs.get(run.run_id)).lifecycle_stage == "deleted"
    await store.runs.restore(run.run_id)
    assert await store.runs.get(run.run_id) == run


async def test_delete_restore_errors(store: Store) -> None:
    eid = await _experiment(store)
    run = await store.runs.create(eid)
    with pytest.raises(InvalidState):
        await store.runs.restore(run.run_id)
    await store.runs.delete(run.run_id)
    with pytest.raises(InvalidState):
        await store.runs.delete(run.run_id)
    with pytest.raises(NotFound):
        await store.runs.delete(uuid.uuid4().hex)
    with pytest.raises(NotFound):
        await store.runs.restore(uuid.uuid4().hex)
    await store.experiments.delete(eid)
    # The run was deleted before the experiment; restoring it alone would leave an active run
    # in a deleted experiment.
    with pytest.raises(InvalidState):
        await store.runs.restore(run.run_id)
    assert (await store.runs.get(run.run_id)).lifecycle_stage == "deleted"


async def test_writes_to_deleted_run_are_invalid_state(store: Store) -> None:
    eid = await _experiment(store)
    run = await store.runs.create(eid, tags={"k": "v"})
    await store.runs.delete(run.run_id)
    with pytest.raises(InvalidState):
        await store.runs.update(run.run_id, status="FINISHED")
    with pytest.raises(InvalidState):
        await store.runs.update(run.run_id, name="x")
    deleted = await store.runs.get(run.run_id)
    assert (deleted.status, deleted.name) == ("RUNNING", run.name)


async def test_writes_to_run_of_deleted_experiment_are_invalid_state(store: Store) -> None:
    eid = await _experiment(store)
    run = await store.runs.create(eid)
    await store.experiments.delete(eid)
    # Force the run active behind the store's back: the experiment check must still refuse.
    await _execute(
        store,
        "UPDATE run SET lifecycle_stage = 'active', deleted_at = NULL WHERE run_id = %s",
        uuid.UUID(run.run_id),
    )
    with pytest.raises(InvalidState):
        await store.runs.update(run.run_id, status="FINISHED")
    with pytest.raises(InvalidState):
        await store.runs.log_params(run.run_id, {"a": "1"})
    assert (await store.runs.get(run.run_id)).status == "RUNNING"
    assert await _rows(store, "SELECT * FROM run_param") == []


async def _list_all(
    store: Store, ids: list[int], limit: int, lifecycle: Any = "active"
) -> list[Run]:
    found: list[Run] = []
    token = None
    while True:
        page = await store.runs.list(ids, lifecycle=lifecycle, limit=limit, page_token=token)
        assert len(page.items) <= limit
        found.extend(page.items)
        token = page.next_page_token
        if token is None:
            return found


async def test_list_orders_and_pages_with_ties_on_start_time(store: Store) -> None:
    e1 = await _experiment(store, "one")
    e2 = await _experiment(store, "two")
    other = await _experiment(store, "other")
    runs = []
    # Many runs share a start time, across two experiments, so pages must break ties by run_id.
    for i in range(30):
        runs.append(await store.runs.create(e1 if i % 2 else e2, start_time=1_000 + i // 7))
    await store.runs.create(other, start_time=1_002)
    expected = sorted(runs, key=lambda r: (-r.start_time, r.run_id))
    for limit in (1, 4, 7, 30, 1000):
        listed = await _list_all(store, [e1, e2], limit)
        assert [r.run_id for r in listed] == [r.run_id for r in expected]
    assert [r.run_id for r in await _list_all(store, [e1], 3)] == [
        r.run_id for r in expected if r.experiment_id == e1
    ]


async def test_list_pages_are_hydrated(store: Store) -> None:
    eid = await _experiment(store)
    run = await store.runs.create(eid, tags={"t": "1"})
    await store.runs.log_params(run.run_id, {"p": "2"})
    (listed,) = (await store.runs.list([eid])).items
    assert listed == await store.runs.get(run.run_id)
    assert (listed.params, listed.tags) == ({"p": "2"}, {"t": "1"})


async def test_list_filters_by_lifecycle(store: Store) -> None:
    eid = await _experiment(store)
    kept = await store.runs.create(eid, start_time=2)
    gone = await store.runs.create(eid, start_time=1)
    await store.runs.delete(gone.run_id)
    assert [r.run_id for r in await _list_all(store, [eid], 10)] == [kept.run_id]
    assert [r.run_id for r in await _list_all(store, [eid], 10, "deleted")] == [gone.run_id]
    assert [r.run_id for r in await _list_all(store, [eid], 1, "all")] == [kept.run_id, gone.run_id]


async def test_list_no_duplicates_when_runs_arrive_between_pages(store: Store) -> None:
    eid = await _experiment(store)
    for i in range(6):
        await store.runs.create(eid, start_time=100 + i)
    first = await store.runs.list([eid], limit=3)
    newer = await store.runs.create(eid, start_time=999)  # sorts before the cursor: not repeated
    rest = await store.runs.list([eid], limit=10, page_token=first.next_page_token)
    seen = [r.run_id for r in first.items + rest.items]
    assert len(seen) == len(set(seen)) == 6
    assert newer.run_id not in seen
    assert [r.start_time for r in rest.items] == [102, 101, 100]


async def test_list_empty_and_bad_arguments(store: Store) -> None:
    assert (await store.runs.list([])).items == []
    with pytest.raises(InvalidInput):
        await store.runs.list([1], page_token="garbage")
    with pytest.raises(InvalidInput):
        await store.runs.list([1], page_token=encode_cursor("experiments", [1]))
    with pytest.raises(InvalidInput):
        await store.runs.list([1], page_token=encode_cursor("runs", [1, "not-a-uuid"]))
    with pytest.raises(InvalidInput):
        await store.runs.list([1], page_token=encode_cursor("runs", [10**20, uuid.uuid4().hex]))
    with pytest.raises(InvalidInput):
        await store.runs.list([1], limit=0)
    with pytest.raises(InvalidInput):
        await store.runs.list([1], lifecycle="nope")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await store.runs.list("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        await store.runs.list([-5])


class _CountingConn:
    """Wraps a connection to count the statements sent through it."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.statements = 0

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return await self._conn.execute(*args, **kwargs)


async def test_load_runs_keeps_order_skips_unknown_in_one_statement(store: Store) -> None:
    eid = await _experiment(store)
    runs = [await store.runs.create(eid, tags={"i": str(i)}) for i in range(20)]
    for run in runs:
        await store.runs.log_params(run.run_id, {"p": run.run_id[:4], "q": "x"})
    wanted = [uuid.UUID(r.run_id) for r in reversed(runs)]
    wanted.insert(5, uuid.uuid4())
    async with store.runs.transaction() as conn:
        counting = _CountingConn(conn)
        loaded = await load_runs(counting, wanted)  # type: ignore[arg-type]
        assert counting.statements == 1
        assert await load_runs(counting, []) == []  # type: ignore[arg-type]
        assert counting.statements == 1
    assert [r.run_id for r in loaded] == [r.run_id for r in reversed(runs)]
    assert all(r.params == {"p": r.run_id[:4], "q": "x"} for r in loaded)
    assert loaded == [await store.runs.get(r.run_id) for r in reversed(runs)]


async def _blocked_then_released(
    store: Store, hold_sql: list[tuple[str, dict[str, Any]]], op: Any
) -> Any:
    """Run ``op`` while another transaction holds ``hold_sql`` uncommitted; commit; return result.

    Checks that ``op`` waited for the other transaction instead of acting on a stale snapshot.
    """
    outcome: list[Any] = []

    async def run_op() -> None:
        try:
            outcome.append(await op())
        except Exception as exc:
            outcome.append(exc)

    async with anyio.create_task_group() as tg:
        async with store.runs.transaction() as conn:
            for sql, params in hold_sql:
                await conn.execute(sql, params)
            tg.start_soon(run_op)
            await _wait_until_blocked_by(store, conn.info.backend_pid)
            assert outcome == [], "the operation did not wait for the concurrent delete"
        # leaving the connection block commits the holding transaction
    return outcome[0]


async def _wait_until_blocked_by(store: Store, holder_pid: int) -> None:
    """Return once PostgreSQL reports a backend waiting on a lock ``holder_pid`` holds.

    This asks pg_blocking_pids instead of sleeping: the proof that the operation waited comes
    from the lock manager, however slow the machine is.
    """
    async with await psycopg.AsyncConnection.connect(store.pool.conninfo, autocommit=True) as conn:
        with anyio.fail_after(60):
            while True:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [holder_pid],
                )
                row = await cur.fetchone()
                if row and row[0]:
                    return
                await anyio.sleep(0.01)  # polling the lock manager, not guessing a duration


async def test_run_create_waits_for_concurrent_experiment_delete(store: Store) -> None:
    eid = await _experiment(store)
    params = {"experiment_id": eid, "workspace_id": 1}
    result = await _blocked_then_released(
        store,
        [(query("experiments.lock"), params), (query("experiments.delete"), params)],
        lambda: store.runs.create(eid),
    )
    assert isinstance(result, InvalidState)
    assert await _count_runs(store) == 0


async def test_param_write_waits_for_concurrent_run_delete(store: Store) -> None:
    run = await store.runs.create(await _experiment(store))
    rid = uuid.UUID(run.run_id)
    result = await _blocked_then_released(
        store,
        [
            (query("runs.lock_for_update"), {"run_id": rid}),
            (query("runs.set_lifecycle"), {"run_id": rid, "lifecycle_stage": "deleted"}),
        ],
        lambda: store.runs.log_params(run.run_id, {"a": "1"}),
    )
    assert isinstance(result, InvalidState)
    assert await _rows(store, "SELECT * FROM run_param") == []


async def test_metric_write_waits_for_concurrent_run_delete(store: Store) -> None:
    run = await store.runs.create(await _experiment(store))
    rid = uuid.UUID(run.run_id)
    result = await _blocked_then_released(
        store,
        [
            (query("runs.lock_for_update"), {"run_id": rid}),
            (query("runs.set_lifecycle"), {"run_id": rid, "lifecycle_stage": "deleted"}),
        ],
        lambda: store.metrics.log(run.run_id, [("loss", 0.5, 1, 1000)]),
    )
    assert isinstance(result, InvalidState)
    assert await _rows(store, "SELECT * FROM metric_chunk") == []
    assert await _rows(store, "SELECT * FROM metric_series") == []
