"""How metric points are laid out on disk: chunking, appends, concurrency, size and speed."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
import psycopg
import pytest
from _metric_runs import create_run, delete_run, stored_counts

from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.errors import InvalidState
from modelyard.store import Store
from modelyard.store.metrics import MetricBatch, Metrics
from pool_support import pooled

pytestmark = pytest.mark.anyio


async def chunks_of(store: Store, run_id: str) -> list[dict[str, Any]]:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT key, seq, min_step, max_step, steps, timestamps, vals FROM metric_chunk"
            " WHERE run_id = %s ORDER BY key, seq",
            [uuid.UUID(run_id)],
        )
        names = ["key", "seq", "min_step", "max_step", "steps", "timestamps", "vals"]
        return [dict(zip(names, row, strict=True)) for row in await cur.fetchall()]


async def series_of(store: Store, run_id: str) -> dict[str, tuple[int, int, int]]:
    """key -> (point_count, chunk_count, tail_points)."""
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT key, point_count, chunk_count, tail_points FROM metric_series"
            " WHERE run_id = %s",
            [uuid.UUID(run_id)],
        )
        return {row[0]: (row[1], row[2], row[3]) for row in await cur.fetchall()}


def check_chunk_invariants(chunks: list[dict[str, Any]], series: dict[str, Any]) -> None:
    """Seqs run 1..chunk_count, chunks are sorted inside, counts and bounds agree."""
    for key, (point_count, chunk_count, tail_points) in series.items():
        mine = [c for c in chunks if c["key"] == key]
        assert [c["seq"] for c in mine] == list(range(1, chunk_count + 1))
        assert sum(len(c["steps"]) for c in mine) == point_count
        assert len(mine[-1]["steps"]) == tail_points
        for chunk in mine:
            pairs = list(zip(chunk["steps"], chunk["timestamps"], strict=True))
            assert pairs == sorted(pairs)
            assert (chunk["min_step"], chunk["max_step"]) == (chunk["steps"][0], chunk["steps"][-1])


async def test_a_large_batch_is_cut_into_full_chunks(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=4096, append_limit=256)
    count = 10_000
    await metrics.log(run, [("m", float(i), i, i) for i in range(count)])
    chunks = await chunks_of(store, run)
    assert [len(c["steps"]) for c in chunks] == [4096, 4096, 1808]
    assert [(c["min_step"], c["max_step"]) for c in chunks] == [
        (0, 4095),
        (4096, 8191),
        (8192, 9999),
    ]
    check_chunk_invariants(chunks, await series_of(store, run))


async def test_per_step_logging_appends_to_the_newest_chunk(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=64, append_limit=16)
    for step in range(40):  # one point per call, as mlflow.log_metric does
        await metrics.log(run, [("m", float(step), step, step), ("n", 1.0, step, step)])
    chunks = await chunks_of(store, run)
    assert [len(c["steps"]) for c in chunks if c["key"] == "m"] == [16, 16, 8]
    series = await series_of(store, run)
    assert series["m"] == (40, 3, 8)
    check_chunk_invariants(chunks, series)
    assert (await metrics.history(run, "m")).steps == list(range(40))


async def test_an_append_merges_out_of_order_points_into_sorted_order(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=64, append_limit=16)
    await metrics.log(run, [("m", 1.0, 10, 0), ("m", 2.0, 20, 0)])
    await metrics.log(run, [("m", 3.0, 15, 0), ("m", 4.0, 5, 0)])
    chunks = await chunks_of(store, run)
    assert len(chunks) == 1
    assert chunks[0]["steps"] == [5, 10, 15, 20]
    assert chunks[0]["vals"] == [4.0, 1.0, 3.0, 2.0]
    assert (chunks[0]["min_step"], chunks[0]["max_step"]) == (5, 20)


async def test_a_batch_too_big_for_the_tail_starts_new_chunks(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=8, append_limit=4)
    await metrics.log(run, [("m", 0.0, 0, 0)])
    await metrics.log(run, [("m", float(i), i, i) for i in range(1, 5)])  # 1 + 4 > 4
    await metrics.log(run, [("m", 5.0, 5, 5)])  # fits the 4-point tail? 4 + 1 > 4: no
    await metrics.log(run, [("m", float(i), i, i) for i in range(6, 26)])
    chunks = await chunks_of(store, run)
    assert [len(c["steps"]) for c in chunks] == [1, 4, 1, 8, 8, 4]
    check_chunk_invariants(chunks, await series_of(store, run))
    assert (await metrics.history(run, "m")).steps == list(range(26))


async def test_concurrent_writers_lose_and_duplicate_nothing(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=32, append_limit=8)
    writers, batches = 8, 20
    shared = ["shared_a", "shared_b", "shared_c"]

    async def writer(w: int) -> None:
        for b in range(batches):
            # Some keys shared by every writer, in an order that differs per writer and batch,
            # plus one own key; sizes vary so that both appends and new chunks happen.
            keys = shared[(w + b) % 3 :] + shared[: (w + b) % 3] + [f"own_{w}"]
            size = 1 + (w * 7 + b * 3) % 12
            points = [
                (key, float(w * 1_000_000 + b * 1000 + i), b * 100 + i, w)
                for key in (list(reversed(keys)) if w % 2 else keys)
                for i in range(size)
            ]
            await metrics.log(run, points)

    async with anyio.create_task_group() as group:
        for w in range(writers):
            group.start_soon(writer, w)

    expected: dict[str, list[float]] = {}
    for w in range(writers):
        for b in range(batches):
            size = 1 + (w * 7 + b * 3) % 12
            for key in [*shared, f"own_{w}"]:
                expected.setdefault(key, []).extend(
                    float(w * 1_000_000 + b * 1000 + i) for i in range(size)
                )
    series = await series_of(store, run)
    assert set(series) == set(expected)
    for key, values in expected.items():
        history = await metrics.history(run, key)
        assert sorted(history.values) == sorted(values)  # each point exactly once
        assert series[key][0] == len(values)
    check_chunk_invariants(await chunks_of(store, run), series)


async def test_concurrent_retries_with_one_key_apply_once(store: Store) -> None:
    run = await create_run(store)
    points = [("m", float(i), i, i) for i in range(50)]

    results: list[int] = []

    async def send() -> None:
        results.append(await store.metrics.log(run, points, idempotency_key="same-flush"))

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(send)
    assert results == [50] * 6
    assert await stored_counts(store, run) == (1, 1, 50)


async def test_a_failed_first_batch_does_not_lose_the_staging_table(
    store: Store, runtime_url: str
) -> None:
    # One connection only: the first call's CREATE TEMP TABLE is rolled back with the failed
    # batch, and the next call on the same connection must create it again.
    single = await Store.open(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=1)
    try:
        deleted = await create_run(single, deleted=True)
        run = await create_run(single)
        with pytest.raises(InvalidState):
            await single.metrics.log(deleted, [("m", 1.0, 0, 0)])
        assert await single.metrics.log(run, [("m", 1.0, 0, 0)]) == 1
        assert await single.metrics.log(run, [("m", 2.0, 1, 1)]) == 1
        # Staged rows are gone after each commit: the second batch did not re-apply the first.
        assert await stored_counts(single, run) == (1, 1, 2)
        await delete_run(single, run)
        with pytest.raises(InvalidState):
            await single.metrics.log(run, [("m", 3.0, 2, 2)])
        assert await stored_counts(single, run) == (1, 1, 2)
    finally:
        await single.close()


async def relation_bytes(store: Store, database_url: str) -> int:
    """metric_chunk and metric_series with their TOAST tables and indexes."""
    # CHECKPOINT needs pg_checkpoint's privileges: the superuser's, not the store's role.
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as admin:
        await admin.execute("CHECKPOINT")
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT pg_total_relation_size('metric_chunk')"
            " + pg_total_relation_size('metric_series')"
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])


async def test_a_million_points_fit_in_60_bytes_each_and_read_back(
    store: Store, database_url: str
) -> None:
    # Sizes only: how fast they go in and come out is bench/metric_store.py's and
    # bench/store_ingest.py's to show (BENCHMARKS.md), never a timed assertion on a shared
    # machine.
    run = await create_run(store)
    keys, per_batch, batches = 10, 100_000, 10
    for b in range(batches):
        base = b * per_batch // keys
        batch = MetricBatch(
            keys=[f"metric_{i % keys}" for i in range(per_batch)],
            values=[((i * 7919) % 10007) / 10007.0 for i in range(per_batch)],
            steps=[base + i // keys for i in range(per_batch)],
            timestamps=[1_700_000_000_000 + b * per_batch + i for i in range(per_batch)],
        )
        assert await store.metrics.log(run, batch) == per_batch
    total = keys * (per_batch // keys) * batches
    assert total == 1_000_000

    size = await relation_bytes(store, database_url)
    assert size / total <= 60, f"{size / total:.1f} bytes per point"

    one_key = await store.metrics.history(run, "metric_0")
    assert one_key.total_points == 100_000
    assert one_key.steps == list(range(100_000))


async def test_per_step_logging_stays_compact(store: Store) -> None:
    # 600 single-point calls must not leave 600 rows: appends fill chunks of append_limit.
    run = await create_run(store)
    for step in range(600):
        await store.metrics.log(run, [("loss", 1.0 / (step + 1), step, step)])
    _, chunk_rows, points = await stored_counts(store, run)
    assert points == 600
    assert chunk_rows == -(-600 // store.metrics.append_limit)


async def test_ingest_survives_a_session_without_the_staging_table(runtime_url: str) -> None:
    """Behind a transaction-mode pooler the next transaction may run in another server session.

    ``DISCARD TEMP`` gives this connection's session exactly that state: no staging table,
    although this client connection used one before.
    """
    single = await Store.open(runtime_url, DEFAULT_SCHEMA, min_size=1, max_size=1)
    try:
        run = await create_run(single)
        assert await single.metrics.log(run, [("m", 1.0, 0, 0)]) == 1
        async with pooled(single.pool) as conn:
            await conn.execute("DISCARD TEMP")
        assert await single.metrics.log(run, [("m", 2.0, 1, 1)]) == 1
        assert await stored_counts(single, run) == (1, 1, 2)
    finally:
        await single.close()
