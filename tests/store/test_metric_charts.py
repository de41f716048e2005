"""Chart downsampling in PostgreSQL: bounded point counts, spikes kept, full detail when zoomed,
block summaries written with the points (so a chart only reads), the time axis, and bad input."""

from __future__ import annotations

import math
import uuid
from typing import Any

import psycopg
import pytest
from _metric_runs import create_run
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.errors import InvalidInput, NotFound
from modelyard.store import Store
from modelyard.store._metric_copy import block_summary
from modelyard.store.metric_charts import BLOCK
from modelyard.store.metrics import MetricBatch
from pool_support import pooled

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000_000


async def log_series(store: Store, run: str, values: list[float], first_step: int = 0) -> None:
    """Log ``values`` at consecutive steps, timestamps 10 ms apart, in 50,000-point batches."""
    for lo in range(0, len(values), 50_000):
        part = values[lo : lo + 50_000]
        steps = list(range(first_step + lo, first_step + lo + len(part)))
        await store.metrics.log(
            run,
            MetricBatch(
                keys=["loss"] * len(part),
                values=part,
                steps=steps,
                timestamps=[T0 + 10 * s for s in steps],
            ),
        )


def wave(count: int) -> list[float]:
    return [math.sin(i / 500) for i in range(count)]


async def test_wide_range_is_bounded_and_keeps_a_one_point_spike(store: Store) -> None:
    run = await create_run(store)
    values = wave(200_000)
    spike_at = 123_457  # not a multiple of any stride a naive every-n-th sampler would use
    values[spike_at] = 40.0
    await log_series(store, run, values)

    chart = await store.metric_charts.series(run, "loss", buckets=1000)
    assert chart.downsampled
    assert chart.total_points == 200_000
    assert len(chart.xs) <= 2 * 1000
    assert max(chart.values) == 40.0
    assert min(chart.values) == pytest.approx(-1.0, abs=1e-6)
    # The spike's bucket places it within a bucket's width of its true step.
    where = chart.xs[chart.values.index(40.0)]
    assert abs(where - spike_at) <= 200_000 / 1000 + BLOCK
    # A naive sampler keeping every 100th point (2,000 points, the same budget) loses it.
    assert 40.0 not in values[::100]
    assert chart.xs == sorted(chart.xs)
    # The whole series takes the chunk-level bounds; an explicit full range, the block-level
    # ones: the same chart.
    ranged = await store.metric_charts.series(run, "loss", lo=-(2**63), hi=2**63 - 1, buckets=1000)
    assert ranged == chart


async def test_zoomed_ranges_use_points_then_full_detail(store: Store) -> None:
    run = await create_run(store)
    values = wave(200_000)
    values[150_001] = -9.0
    await log_series(store, run, values)

    middle = await store.metric_charts.series(run, "loss", lo=100_000, hi=160_000, buckets=1000)
    assert middle.downsampled and len(middle.xs) <= 2000
    assert min(middle.values) == -9.0
    assert min(middle.xs) >= 100_000 and max(middle.xs) <= 160_000

    narrow = await store.metric_charts.series(run, "loss", lo=150_000, hi=150_999, buckets=1000)
    assert not narrow.downsampled
    assert narrow.xs == list(range(150_000, 151_000))
    assert narrow.values == values[150_000:151_000]


async def test_summaries_follow_appends(store: Store) -> None:
    run = await create_run(store)
    await log_series(store, run, wave(100_000))
    first = await store.metric_charts.series(run, "loss", buckets=500)
    assert max(first.values) < 2
    # Small batches append to the newest chunk: its summary must be recomputed.
    await log_series(store, run, [0.0] * 10 + [77.0], first_step=100_000)
    second = await store.metric_charts.series(run, "loss", buckets=500)
    assert max(second.values) == 77.0
    assert max(second.xs) == 100_010


def summarise(steps: list[int], times: list[int], vals: list[float]) -> tuple[list[Any], ...]:
    """What a chunk's summary must hold, worked out here block by block (NaN absent)."""
    blocks = [range(i, min(i + BLOCK, len(steps))) for i in range(0, len(steps), BLOCK)]
    return (
        [min(steps[j] for j in b) for b in blocks],
        [max(steps[j] for j in b) for b in blocks],
        [min(times[j] for j in b) for b in blocks],
        [max(times[j] for j in b) for b in blocks],
        [min(vals[j] for j in b) for b in blocks],
        [max(vals[j] for j in b) for b in blocks],
    )


async def chunks_and_summaries(store: Store, run: str) -> list[tuple[Any, ...]]:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT c.seq, c.steps, c.timestamps, c.vals, r.point_count, r.min_steps,"
            " r.max_steps, r.min_times, r.max_times, r.min_vals, r.max_vals"
            " FROM metric_chunk c LEFT JOIN metric_chunk_rollup r USING (run_id, key, seq)"
            " WHERE c.run_id = %s ORDER BY c.seq",
            [uuid.UUID(run)],
        )
        return await cur.fetchall()


async def test_summaries_are_written_with_the_points(store: Store) -> None:
    run = await create_run(store)
    values = wave(10_000)
    values[4_321] = 9.0
    # Out of step order within the batch, so chunks are sorted before they are summarised.
    steps = [*range(5_000, 10_000), *range(5_000)]
    await store.metrics.log(
        run,
        MetricBatch(
            keys=["loss"] * 10_000,
            values=[values[s] for s in steps],
            steps=steps,
            timestamps=[T0 + 10 * (9_999 - s) for s in steps],  # time runs backwards
        ),
    )
    for step in range(10_000, 10_040):  # per-step logging grows the newest chunk
        await store.metrics.log(
            run, MetricBatch(keys=["loss"], values=[-3.0], steps=[step], timestamps=[T0])
        )
    rows = await chunks_and_summaries(store, run)
    assert len(rows) >= 3  # 4,096-point chunks, then the grown one
    for _seq, steps_, times, vals, count, *summary in rows:
        assert count == len(vals)
        assert tuple(summary) == summarise(steps_, times, vals)


async def test_a_chart_only_reads(store: Store, database_url: str, runtime_url: str) -> None:
    run = await create_run(store)
    values = wave(300_000)
    values[222_223] = 60.0
    await log_series(store, run, values)
    # From here on every transaction of the database is read-only: a chart that wrote
    # (summaries made on first read) would fail.
    name = conninfo_to_dict(database_url)["dbname"]
    # As the database's owner: the store's runtime role may not alter the database.
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(str(name))
            )
        )
    reader = await Store.open(runtime_url, DEFAULT_SCHEMA)
    try:
        chart = await reader.metric_charts.series(run, "loss", buckets=800)
        extremes = await reader.overview.metric_extremes([run], ["loss"])
    finally:
        await reader.close()
    assert chart.downsampled and chart.total_points == 300_000
    assert 60.0 in chart.values and len(chart.xs) <= 1600
    assert extremes[(run, "loss")] == (pytest.approx(-1.0, abs=1e-6), 60.0)


def same(found: Any, expected: Any) -> bool:
    """Equal arrays of arrays, NaN equal to NaN."""

    def norm(items: Any) -> list[Any]:
        return ["nan" if v != v else v for v in items]

    return [norm(a) for a in found] == [norm(a) for a in expected]


async def test_the_store_and_postgresql_summarise_alike(store: Store) -> None:
    """The store summarises the chunks it stages; PostgreSQL summarises grown chunks and old
    releases' batches (metric_block_summary_v1): both must give the same rows."""
    nan, inf = math.nan, math.inf
    values = [math.sin(i) for i in range(300)]
    values[3], values[70], values[71] = nan, inf, -inf
    values[128:192] = [nan] * 64  # a block of NaN only
    steps = list(range(300))
    times = [T0 + (i * 7919) % 300 for i in range(300)]  # not in order
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT * FROM metric_block_summary_v1(%s, %s, %s::float8[])", [steps, times, values]
        )
        found = await cur.fetchone()
    assert found is not None
    assert same(found, block_summary(steps, times, values))
    first = [v for v in values[:64] if v == v]
    assert same(
        found[4:],
        (
            [min(first), -inf, nan, min(values[192:256]), min(values[256:])],
            [nan, inf, nan, max(values[192:256]), max(values[256:])],
        ),
    )
    assert same(found[:2], ([0, 64, 128, 192, 256], [63, 127, 191, 255, 299]))


async def test_a_previous_releases_batch_gets_summaries(store: Store) -> None:
    """Servers of the previous release stage without summaries and call version 1."""
    run = await create_run(store)
    async with store.metrics.transaction() as conn:  # with the scope, as those servers set it
        await conn.execute("SELECT ensure_metric_staging_v1()")
        await conn.execute(
            "INSERT INTO pg_temp.metric_staging VALUES"
            " ('loss', 0, 3, 5, 7, '{5,6,7}', '{30,10,20}', '{1.5,NaN,-2}')"
        )
        cur = await conn.execute("SELECT ingest_metric_staging_v1(%s, NULL, 256)", [uuid.UUID(run)])
        assert await cur.fetchone() == (3,)
    rows = await chunks_and_summaries(store, run)
    assert len(rows) == 1
    assert rows[0][4] == 3
    assert same(rows[0][5:], ([5], [7], [10], [30], [-2.0], [math.nan]))


async def test_time_axis_uses_timestamps(store: Store) -> None:
    run = await create_run(store)
    values = wave(150_000)
    values[99_999] = 5.0
    await log_series(store, run, values)
    chart = await store.metric_charts.series(run, "loss", axis="time", buckets=800)
    assert chart.axis == "time" and chart.downsampled
    assert min(chart.xs) == T0 and max(chart.xs) == T0 + 10 * 149_999
    assert 5.0 in chart.values
    zoom = await store.metric_charts.series(
        run, "loss", axis="time", lo=T0 + 10 * 99_990, hi=T0 + 10 * 100_009, buckets=800
    )
    assert zoom.xs == [T0 + 10 * s for s in range(99_990, 100_010)]
    assert 5.0 in zoom.values


async def test_nan_is_kept_as_a_bucket_maximum(store: Store) -> None:
    run = await create_run(store)
    values = wave(120_000)
    values[60_000] = math.nan
    await log_series(store, run, values)
    chart = await store.metric_charts.series(run, "loss", buckets=500)
    assert any(math.isnan(v) for v in chart.values)


async def test_empty_unknown_and_bad_input(store: Store) -> None:
    run = await create_run(store)
    empty = await store.metric_charts.series(run, "never-logged")
    assert (empty.xs, empty.total_points) == ([], 0)
    with pytest.raises(NotFound):
        await store.metric_charts.series(uuid.uuid4().hex, "loss")
    with pytest.raises(InvalidInput):
        await store.metric_charts.series(run, "loss", axis="epoch")
    with pytest.raises(InvalidInput):
        await store.metric_charts.series(run, "loss", buckets=1)
    with pytest.raises(InvalidInput):
        await store.metric_charts.series(run, "loss", lo=10, hi=5)
