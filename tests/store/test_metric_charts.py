"""Chart downsampling in PostgreSQL: bounded point counts, spikes kept, full detail when zoomed,
summaries refreshed after appends, the time axis, and bad input."""

from __future__ import annotations

import math
import uuid

import pytest
from _metric_runs import create_run

from modelyard.errors import InvalidInput, NotFound
from modelyard.store import Store
from modelyard.store.metric_charts import BLOCK
from modelyard.store.metrics import MetricBatch

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
