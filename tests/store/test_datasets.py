"""Datasets: versions by content digest, immutable and race-free, and runs' inputs and outputs."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
import pytest

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.store import Store
from modelyard.store.dataset_records import DatasetSpec, InputSpec, raw_json
from pool_support import pooled

pytestmark = pytest.mark.anyio

SCHEMA_TEXT = b'{"mlflow_colspec": [{"type": "double", "name": "x"}],  "b": 1, "a": 2}'


async def _count(store: Store, table: str) -> int:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(f"SELECT count(*) FROM {table}")  # test-only fixed names
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def _run(store: Store, experiment: str = "exp") -> str:
    eid = (await store.experiments.get_or_create(experiment)).experiment_id
    return (await store.runs.create(eid)).run_id


def _spec(name: str = "iris", digest: str = "d1", **fields: Any) -> DatasetSpec:
    return DatasetSpec(name=name, digest=digest, **fields)


async def test_a_version_keeps_every_field_and_the_json_text_exactly(store: Store) -> None:
    logged = await store.datasets.log_version(
        _spec(
            source_type="s3",
            source="s3://bucket/iris.csv",
            schema=msgspec.Raw(SCHEMA_TEXT),
            row_count=150,
            profile=raw_json({"num_rows": 150}),
        )
    )
    assert (logged.name, logged.digest, logged.source_type, logged.source) == (
        "iris",
        "d1",
        "s3",
        "s3://bucket/iris.csv",
    )
    assert logged.row_count == 150
    # json, not jsonb: the key order and spacing an MLflow client sent come back unchanged.
    assert bytes(logged.schema) == SCHEMA_TEXT
    assert msgspec.json.decode(logged.profile) == {"num_rows": 150}
    again = await store.datasets.get_version("iris", "d1")
    assert again == logged
    bare = await store.datasets.log_version(_spec(digest="d2"))
    assert bytes(bare.schema) == b"null" and bytes(bare.profile) == b"null"
    assert bare.source is None and bare.row_count is None


async def test_the_same_content_twice_is_the_same_version(store: Store) -> None:
    first = await store.datasets.log_version(_spec(source="file:///a.csv", row_count=1))
    second = await store.datasets.log_version(_spec(source="file:///copy.csv", row_count=9))
    # Versions are immutable: the repeat returns the stored version, not its own metadata.
    assert second == first and second.source == "file:///a.csv"
    assert await _count(store, "dataset_version") == 1
    other = await store.datasets.log_version(_spec(digest="d2"))
    assert other.digest == "d2"
    assert await _count(store, "dataset_version") == 2
    assert await _count(store, "dataset") == 1
    dataset = await store.datasets.get("iris")
    assert dataset.version_count == 2
    assert dataset.last_updated_timestamp >= dataset.creation_timestamp


async def test_concurrent_loggers_of_one_digest_end_with_one_version(store: Store) -> None:
    results: list[Any] = []

    async def log(index: int) -> None:
        spec = _spec(name="shared", digest="same", source=f"file:///{index}")
        results.append(await store.datasets.log_version(spec))

    async with anyio.create_task_group() as tg:
        for index in range(12):
            tg.start_soon(log, index)
    assert len(results) == 12
    assert len({(r.source, r.creation_timestamp) for r in results}) == 1
    assert await _count(store, "dataset") == 1
    assert await _count(store, "dataset_version") == 1


async def test_concurrent_inputs_of_one_new_digest_to_many_runs(store: Store) -> None:
    runs = [await _run(store) for _ in range(8)]

    async def log(run_id: str) -> None:
        await store.datasets.log_inputs(
            run_id, [InputSpec(name="new", digest="x", context="train")]
        )

    async with anyio.create_task_group() as tg:
        for run_id in runs:
            tg.start_soon(log, run_id)
    assert await _count(store, "dataset_version") == 1
    assert await _count(store, "run_input") == 8


async def test_inputs_with_contexts_and_mlflow_tags(store: Store) -> None:
    run_id = await _run(store)
    logged = await store.datasets.log_inputs(
        run_id,
        [
            InputSpec(name="iris", digest="d1", context="training", tags={"split": "a"}),
            InputSpec(name="iris", digest="d2", tags={"mlflow.data.context": "validation"}),
            InputSpec(name="other", digest="d9"),
        ],
    )
    assert [(i.dataset.digest, i.context) for i in logged] == [
        ("d1", "training"),
        ("d2", "validation"),
        ("d9", None),
    ]
    # MLflow's context tag lives in the context column, the other tags stay tags.
    assert logged[1].tags == {} and logged[0].tags == {"split": "a"}
    # The same version in the same context again is a no-op keeping the first tags; another
    # context is another input.
    await store.datasets.log_inputs(
        run_id,
        [
            InputSpec(name="iris", digest="d1", context="training", tags={"split": "b"}),
            InputSpec(name="iris", digest="d1", context="evaluation"),
        ],
    )
    inputs = (await store.datasets.inputs_of([run_id]))[run_id]
    assert [(i.dataset.digest, i.context, i.tags) for i in inputs] == [
        ("d1", "training", {"split": "a"}),
        ("d2", "validation", {}),
        ("d9", None, {}),
        ("d1", "evaluation", {}),
    ]


async def test_outputs_and_batched_reads(store: Store) -> None:
    producer, consumer = await _run(store), await _run(store)
    await store.datasets.log_outputs(producer, [_spec("features", "f1"), _spec("features", "f1")])
    await store.datasets.log_inputs(consumer, [InputSpec(name="features", digest="f1")])
    outputs = await store.datasets.outputs_of([producer, consumer])
    assert [o.dataset.digest for o in outputs[producer]] == ["f1"]
    assert outputs[consumer] == []
    inputs = await store.datasets.inputs_of([producer, consumer])
    assert inputs[producer] == [] and inputs[consumer][0].dataset.name == "features"


async def test_inputs_need_an_active_run_and_change_nothing_on_failure(store: Store) -> None:
    run_id = await _run(store)
    await store.runs.delete(run_id)
    with pytest.raises(InvalidState):
        await store.datasets.log_inputs(run_id, [InputSpec(name="iris", digest="d1")])
    with pytest.raises(NotFound):
        await store.datasets.log_inputs("0" * 32, [InputSpec(name="iris", digest="d1")])
    live = await _run(store)
    with pytest.raises(InvalidInput):
        # The bad second item fails the whole batch: the first version is not left behind.
        await store.datasets.log_outputs(live, [_spec(), _spec(digest="has space")])
    assert await _count(store, "dataset_version") == 0
    assert await _count(store, "dataset") == 0


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (DatasetSpec(name="", digest="d"), "name"),
        (DatasetSpec(name="a\nb", digest="d"), "name"),
        (DatasetSpec(name="x" * 501, digest="d"), "name"),
        (DatasetSpec(name="n", digest=""), "digest"),
        (DatasetSpec(name="n", digest="x" * 257), "digest"),
        (DatasetSpec(name="n", digest="d", row_count=-1), "row_count"),
        (DatasetSpec(name="n", digest="d", source="s" * 65536), "source"),
        (DatasetSpec(name="n", digest="d", schema=msgspec.Raw(b"x" * (1024 * 1024 + 1))), "schema"),
    ],
)
async def test_bad_specs_are_refused_by_field(store: Store, spec: DatasetSpec, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await store.datasets.log_version(spec)
    assert caught.value.details["field"] == field


async def test_text_that_is_not_json_is_invalid_input(store: Store) -> None:
    # A typed input error whose message is ours, not the database's own text.
    with pytest.raises(InvalidInput, match="cannot store it as given") as caught:
        await store.datasets.log_version(_spec(schema=msgspec.Raw(b"{not json")))
    assert "syntax" not in caught.value.message


async def test_a_context_contradicting_the_mlflow_tag_is_refused(store: Store) -> None:
    run_id = await _run(store)
    spec = InputSpec(name="n", digest="d", context="a", tags={"mlflow.data.context": "b"})
    with pytest.raises(InvalidInput, match="contradicts"):
        await store.datasets.log_inputs(run_id, [spec])


async def test_listing_pages_and_missing_objects(store: Store) -> None:
    for index in range(5):
        await store.datasets.log_version(_spec(name=f"ds-{index}", digest="a"))
    for digest in ("v1", "v2", "v3"):
        await store.datasets.log_version(_spec(name="ds-0", digest=digest))
    first = await store.datasets.list(limit=2)
    assert [d.name for d in first.items] == ["ds-0", "ds-1"] and first.next_page_token
    rest = await store.datasets.list(limit=10, page_token=first.next_page_token)
    assert [d.name for d in rest.items] == ["ds-2", "ds-3", "ds-4"] and rest.next_page_token is None
    assert [d.name for d in (await store.datasets.list(name_like="ds-3%")).items] == ["ds-3"]
    versions = await store.datasets.list_versions("ds-0", limit=3)
    assert [v.digest for v in versions.items] == ["v3", "v2", "v1"]
    tail = await store.datasets.list_versions("ds-0", page_token=versions.next_page_token)
    assert [v.digest for v in tail.items] == ["a"] and tail.next_page_token is None
    with pytest.raises(NotFound, match="dataset 'nope'"):
        await store.datasets.get("nope")
    with pytest.raises(NotFound, match="dataset 'nope'"):
        await store.datasets.get_version("nope", "a")
    with pytest.raises(NotFound, match="no version with digest 'zz'"):
        await store.datasets.get_version("ds-0", "zz")
    with pytest.raises(InvalidInput):
        await store.datasets.list(page_token=versions.next_page_token)
