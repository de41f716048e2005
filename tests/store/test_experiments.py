"""The experiments repository against a real PostgreSQL: every operation and every error."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from modelyard.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from modelyard.store import Experiment, Store
from modelyard.store.pagination import encode_cursor
from pool_support import pooled

pytestmark = pytest.mark.anyio


async def _rows(store: Store, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()


async def _count_experiments(store: Store) -> int:
    """Experiments besides experiment 0 (MLflow's Default, in every database)."""
    sql = "SELECT count(*) FROM experiment WHERE experiment_id <> 0"
    return int((await _rows(store, sql))[0][0])


def _now_ms() -> int:
    return int(time.time() * 1000)


async def test_create_returns_the_full_record(store: Store) -> None:
    before = _now_ms()
    created = await store.experiments.create(
        "churn", description="why", artifact_location="s3://bucket/churn", tags={"team": "ml"}
    )
    assert isinstance(created.experiment_id, int)
    assert created.name == "churn"
    assert created.description == "why"
    assert created.artifact_location == "s3://bucket/churn"
    assert created.lifecycle_stage == "active"
    assert created.tags == {"team": "ml"}
    assert before - 5000 <= created.creation_time <= _now_ms() + 5000
    assert created.last_update_time == created.creation_time
    assert await store.experiments.get(created.experiment_id) == created


async def test_create_minimal_has_no_optional_fields(store: Store) -> None:
    created = await store.experiments.create("plain")
    assert (created.description, created.artifact_location, created.tags) == (None, None, {})


async def test_duplicate_name_is_already_exists_and_writes_nothing(store: Store) -> None:
    first = await store.experiments.create("dup", tags={"a": "1"})
    with pytest.raises(AlreadyExists):
        await store.experiments.create("dup", tags={"b": "2"})
    assert await _count_experiments(store) == 1
    assert (await store.experiments.get(first.experiment_id)).tags == {"a": "1"}


async def test_name_of_deleted_experiment_stays_taken(store: Store) -> None:
    first = await store.experiments.create("gone")
    await store.experiments.delete(first.experiment_id)
    with pytest.raises(AlreadyExists):
        await store.experiments.create("gone")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 257},
        {"name": "tab\there"},
        {"name": "ok", "tags": {"bad key!": "v"}},
        {"name": "ok", "tags": {"k": "v" * 8001}},
        {"name": "ok", "tags": {"k": 1}},
        {"name": "ok", "description": "d" * 65537},
        {"name": "ok", "artifact_location": "x" * 4097},
        {"name": "ok", "tags": {f"k{i}": "v" for i in range(1001)}},
    ],
)
async def test_create_invalid_input_writes_nothing(store: Store, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        await store.experiments.create(**kwargs)
    assert await _count_experiments(store) == 0


async def test_get_accepts_decimal_string_id(store: Store) -> None:
    created = await store.experiments.create("strid")
    assert await store.experiments.get(str(created.experiment_id)) == created  # type: ignore[arg-type]


async def test_get_unknown_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.experiments.get(999)


@pytest.mark.parametrize("bad", [-1, "abc", "1.5", None, True, 2**63])
async def test_get_bad_id_is_invalid_input(store: Store, bad: object) -> None:
    with pytest.raises(InvalidInput):
        await store.experiments.get(bad)  # type: ignore[arg-type]


async def test_get_by_name(store: Store) -> None:
    created = await store.experiments.create("by-name", tags={"k": "v"})
    assert await store.experiments.get_by_name("by-name") == created
    with pytest.raises(NotFound):
        await store.experiments.get_by_name("nope")


async def test_get_or_create_creates_then_returns_the_same(store: Store) -> None:
    first = await store.experiments.get_or_create("fluent")
    second = await store.experiments.get_or_create("fluent")
    assert first == second
    assert await _count_experiments(store) == 1


async def test_get_or_create_concurrent_callers_get_one_experiment(store: Store) -> None:
    ids: list[int] = []

    async def call() -> None:
        ids.append((await store.experiments.get_or_create("race")).experiment_id)

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(call)
    assert len(ids) == 8 and len(set(ids)) == 1
    assert await _count_experiments(store) == 1


async def test_get_or_create_refuses_deleted(store: Store) -> None:
    created = await store.experiments.create("old")
    await store.experiments.delete(created.experiment_id)
    with pytest.raises(InvalidState):
        await store.experiments.get_or_create("old")
    assert (await store.experiments.get(created.experiment_id)).lifecycle_stage == "deleted"


async def test_rename(store: Store) -> None:
    created = await store.experiments.create("before")
    renamed = await store.experiments.rename(created.experiment_id, "after")
    assert renamed.name == "after"
    assert renamed.last_update_time >= created.last_update_time
    assert (await store.experiments.get_by_name("after")).experiment_id == created.experiment_id
    with pytest.raises(NotFound):
        await store.experiments.get_by_name("before")


async def test_rename_errors_change_nothing(store: Store) -> None:
    a = await store.experiments.create("a")
    b = await store.experiments.create("b")
    with pytest.raises(AlreadyExists):
        await store.experiments.rename(b.experiment_id, "a")
    with pytest.raises(InvalidInput):
        await store.experiments.rename(b.experiment_id, "")
    with pytest.raises(NotFound):
        await store.experiments.rename(12345, "c")
    await store.experiments.delete(a.experiment_id)
    with pytest.raises(InvalidState):
        await store.experiments.rename(a.experiment_id, "c")
    names = {
        row[0] for row in await _rows(store, "SELECT name FROM experiment WHERE experiment_id <> 0")
    }
    assert names == {"a", "b"}


async def test_update_description_set_and_clear(store: Store) -> None:
    created = await store.experiments.create("desc")
    eid = created.experiment_id
    assert (await store.experiments.update(eid, description="x")).description == "x"
    assert (await store.experiments.update(eid, description=None)).description is None


async def test_update_errors(store: Store) -> None:
    created = await store.experiments.create("desc", description="keep")
    with pytest.raises(InvalidInput):
        await store.experiments.update(created.experiment_id, description="d" * 65537)
    with pytest.raises(NotFound):
        await store.experiments.update(777, description="x")
    await store.experiments.delete(created.experiment_id)
    with pytest.raises(InvalidState):
        await store.experiments.update(created.experiment_id, description="x")
    assert (await store.experiments.get(created.experiment_id)).description == "keep"


async def test_set_and_delete_tag(store: Store) -> None:
    created = await store.experiments.create("tags", tags={"a": "1"})
    await store.experiments.set_tag(created.experiment_id, "a", "2")
    await store.experiments.set_tag(created.experiment_id, "b", "3")
    assert (await store.experiments.get(created.experiment_id)).tags == {"a": "2", "b": "3"}
    await store.experiments.delete_tag(created.experiment_id, "a")
    got = await store.experiments.get(created.experiment_id)
    assert got.tags == {"b": "3"}
    assert got.last_update_time >= created.last_update_time


async def test_tag_errors(store: Store) -> None:
    created = await store.experiments.create("tags", tags={"a": "1"})
    eid = created.experiment_id
    with pytest.raises(NotFound):
        await store.experiments.delete_tag(eid, "missing")
    with pytest.raises(InvalidInput):
        await store.experiments.set_tag(eid, "bad key!", "v")
    with pytest.raises(InvalidInput):
        await store.experiments.set_tag(eid, "a", "v" * 8001)
    with pytest.raises(NotFound):
        await store.experiments.set_tag(4242, "a", "v")
    with pytest.raises(NotFound):
        await store.experiments.delete_tag(4242, "a")
    await store.experiments.delete(eid)
    with pytest.raises(InvalidState):
        await store.experiments.set_tag(eid, "a", "2")
    with pytest.raises(InvalidState):
        await store.experiments.delete_tag(eid, "a")
    assert await _rows(store, "SELECT key, value FROM experiment_tag") == [("a", "1")]


async def test_delete_and_restore_cascade_to_runs(store: Store) -> None:
    created = await store.experiments.create("cascade")
    eid = created.experiment_id
    kept = await store.runs.create(eid, name="kept")
    earlier = await store.runs.create(eid, name="deleted on its own")
    await store.runs.delete(earlier.run_id)

    await store.experiments.delete(eid)
    deleted = await store.experiments.get(eid)
    assert deleted.lifecycle_stage == "deleted"
    assert (await store.runs.get(kept.run_id)).lifecycle_stage == "deleted"
    deleted_at = "SELECT deleted_at FROM experiment WHERE experiment_id = %s"
    assert (await _rows(store, deleted_at, eid))[0][0] is not None

    await store.experiments.restore(eid)
    restored = await store.experiments.get(eid)
    assert restored.lifecycle_stage == "active"
    assert (await store.runs.get(kept.run_id)).lifecycle_stage == "active"
    # A run deleted before the experiment was is not brought back with it.
    assert (await store.runs.get(earlier.run_id)).lifecycle_stage == "deleted"
    assert await _rows(store, deleted_at, eid) == [(None,)]


async def test_delete_and_restore_errors(store: Store) -> None:
    created = await store.experiments.create("twice")
    with pytest.raises(InvalidState):
        await store.experiments.restore(created.experiment_id)
    await store.experiments.delete(created.experiment_id)
    with pytest.raises(InvalidState):
        await store.experiments.delete(created.experiment_id)
    with pytest.raises(NotFound):
        await store.experiments.delete(31337)
    with pytest.raises(NotFound):
        await store.experiments.restore(31337)
    assert (await store.experiments.get(created.experiment_id)).lifecycle_stage == "deleted"


async def _list_all(store: Store, limit: int, lifecycle: Any = "active") -> list[Experiment]:
    found: list[Experiment] = []
    token = None
    while True:
        page = await store.experiments.list(lifecycle=lifecycle, limit=limit, page_token=token)
        assert len(page.items) <= limit
        found.extend(e for e in page.items if e.experiment_id != 0)  # leave out Default
        token = page.next_page_token
        if token is None:
            return found


async def test_list_pages_without_duplicates_or_gaps(store: Store) -> None:
    created = [await store.experiments.create(f"e{i:02d}") for i in range(23)]
    for limit in (1, 5, 23, 100):
        listed = await _list_all(store, limit)
        assert [e.experiment_id for e in listed] == [e.experiment_id for e in created]
    exact = await store.experiments.list(limit=24)  # the 23 and experiment 0
    assert exact.next_page_token is None


async def test_list_filters_by_lifecycle(store: Store) -> None:
    a = await store.experiments.create("a", tags={"k": "v"})
    b = await store.experiments.create("b")
    await store.experiments.delete(b.experiment_id)
    assert [e.name for e in await _list_all(store, 10)] == ["a"]
    assert [e.name for e in await _list_all(store, 10, "deleted")] == ["b"]
    assert [e.name for e in await _list_all(store, 1, "all")] == ["a", "b"]
    assert (await _list_all(store, 10))[0].tags == a.tags


async def test_list_is_stable_when_rows_change_between_pages(store: Store) -> None:
    for i in range(4):
        await store.experiments.create(f"e{i}")
    first = await store.experiments.list(limit=3)  # Default (experiment 0), e0, e1
    await store.experiments.delete(first.items[1].experiment_id)
    late = await store.experiments.create("late")
    second = await store.experiments.list(limit=10, page_token=first.next_page_token)
    assert [e.name for e in second.items] == ["e2", "e3", "late"]
    assert late.experiment_id == second.items[-1].experiment_id


@pytest.mark.parametrize(
    "token",
    ["garbage", encode_cursor("runs", [1, "x"]), encode_cursor("experiments", ["1"])],
)
async def test_list_bad_token_is_invalid_input(store: Store, token: str) -> None:
    with pytest.raises(InvalidInput):
        await store.experiments.list(page_token=token)


@pytest.mark.parametrize("kwargs", [{"limit": 0}, {"limit": 1001}, {"lifecycle": "gone"}])
async def test_list_bad_arguments_are_invalid_input(store: Store, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        await store.experiments.list(**kwargs)
