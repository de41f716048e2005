"""Metric store behaviour: round trips, ordering, ranges, downsampling, latest, retries, errors."""

from __future__ import annotations

import math
import uuid

import pytest
from _metric_runs import create_run, delete_run, stored_counts

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.store import Store
from modelyard.store.metrics import MetricBatch, MetricPoint, Metrics
from pool_support import pooled

pytestmark = pytest.mark.anyio

INF = float("inf")
NAN = float("nan")


def same_values(left: list[float], right: list[float]) -> bool:
    """Equal lists where NaN equals NaN."""
    return len(left) == len(right) and all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(left, right, strict=True)
    )


async def test_round_trip_keeps_nan_and_infinities(store: Store) -> None:
    run = await create_run(store)
    values = [0.5, NAN, INF, -INF, -0.25, 1e308, -1e-308]
    batch = MetricBatch(
        keys=["loss"] * len(values),
        values=values,
        steps=list(range(len(values))),
        timestamps=[1_700_000_000_000 + i for i in range(len(values))],
    )
    assert await store.metrics.log(run, batch) == len(values)

    history = await store.metrics.history(run, "loss")
    assert history.steps == list(range(len(values)))
    assert history.timestamps == batch.timestamps
    assert same_values(history.values, values)
    assert history.total_points == len(values)


async def test_tuples_points_and_batches_are_equivalent(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("acc", 1, 0, 10), ("loss", 2.5, 0, 10)])
    await store.metrics.log(run, [MetricPoint(key="acc", value=0.5, step=1, timestamp=11)])
    await store.metrics.log(
        run, MetricBatch(keys=["acc"], values=[0.75], steps=[2], timestamps=[12])
    )
    history = await store.metrics.history(run, "acc")
    assert (history.steps, history.values) == ([0, 1, 2], [1.0, 0.5, 0.75])
    assert isinstance(history.values[0], float)  # an int value is stored as a float
    assert await store.metrics.keys(run) == ["acc", "loss"]


async def test_dashed_run_id_is_accepted(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(str(uuid.UUID(run)), [("m", 1.0, 0, 1)])
    assert (await store.metrics.history(run, "m")).values == [1.0]


async def test_out_of_order_steps_come_back_sorted(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("m", 5.0, 5, 50), ("m", 1.0, 1, 10), ("m", 3.0, 3, 30)])
    await store.metrics.log(run, [("m", 2.0, 2, 20), ("m", 0.0, 0, 0)])
    # Same step, timestamps out of order: ordered by timestamp within the step.
    await store.metrics.log(run, [("m", 3.2, 3, 32), ("m", 3.1, 3, 31)])
    history = await store.metrics.history(run, "m")
    assert history.steps == [0, 1, 2, 3, 3, 3, 5]
    assert history.timestamps == [0, 10, 20, 30, 31, 32, 50]
    assert history.values == [0.0, 1.0, 2.0, 3.0, 3.1, 3.2, 5.0]


async def test_out_of_order_across_many_chunks(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=4, append_limit=2)
    steps = [7, 3, 11, 0, 5, 9, 1, 10, 2, 8, 4, 6]
    for start in range(0, len(steps), 3):  # batches of 3: chunks with overlapping step ranges
        part = steps[start : start + 3]
        await metrics.log(run, [("m", float(s), s, 1000 + s) for s in part])
    history = await metrics.history(run, "m")
    assert history.steps == sorted(steps)
    assert history.values == [float(s) for s in sorted(steps)]
    ranged = await metrics.history(run, "m", min_step=4, max_step=8)
    assert ranged.steps == [4, 5, 6, 7, 8]


async def test_step_range_is_inclusive_and_prunes_across_chunks(store: Store) -> None:
    run = await create_run(store)
    metrics = Metrics(store.pool, chunk_points=10, append_limit=5)
    await metrics.log(run, [("m", s * 0.5, s, s) for s in range(100)])
    history = await metrics.history(run, "m", min_step=25, max_step=54)
    assert history.steps == list(range(25, 55))
    assert history.values == [s * 0.5 for s in range(25, 55)]
    assert history.total_points == 30
    assert (await metrics.history(run, "m", min_step=95)).steps == list(range(95, 100))
    assert (await metrics.history(run, "m", max_step=3)).steps == [0, 1, 2, 3]
    assert (await metrics.history(run, "m", min_step=200)).steps == []
    assert (await metrics.history(run, "m", min_step=7, max_step=7)).steps == [7]


async def test_an_empty_step_range_has_no_points_and_a_bad_step_is_refused(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("m", float(s), s, s) for s in range(10)])
    # min_step > max_step is an empty range, as with BETWEEN: no points, not an error.
    empty = await store.metrics.history(run, "m", min_step=5, max_step=4)
    assert (empty.steps, empty.total_points) == ([], 0)
    extreme = await store.metrics.history(run, "m", min_step=2**63 - 1, max_step=-(2**63))
    assert extreme.steps == []
    with pytest.raises(NotFound):  # an empty range still needs the run to exist
        await store.metrics.history(uuid.uuid4().hex, "m", min_step=5, max_step=4)
    with pytest.raises(InvalidInput):
        await store.metrics.history(run, "m", min_step=2**63)


async def test_downsampling_bounds_the_count_and_keeps_extremes(store: Store) -> None:
    run = await create_run(store)
    count = 10_000
    values = [math.sin(i / 300) for i in range(count)]
    values[1234] = 50.0  # a spike
    values[8765] = -50.0  # a dip
    values[4321] = NAN  # a divergence
    batch = MetricBatch(
        keys=["m"] * count, values=values, steps=list(range(count)), timestamps=[0] * count
    )
    await store.metrics.log(run, batch)
    for max_points in (2, 3, 10, 101, 500):
        history = await store.metrics.history(run, "m", max_points=max_points)
        assert len(history.steps) <= max_points
        assert history.total_points == count
        assert history.steps[0] == 0 and history.steps[-1] == count - 1
        assert history.steps == sorted(history.steps)
        if max_points >= 4:
            assert 1234 in history.steps and 8765 in history.steps and 4321 in history.steps
            assert 50.0 in history.values and -50.0 in history.values
            assert any(math.isnan(v) for v in history.values)
    kept = await store.metrics.history(run, "m", max_points=500)
    for step, value in zip(kept.steps, kept.values, strict=True):
        assert same_values([value], [values[step]])  # every kept point is a real point


async def test_downsampling_works_on_a_step_range_and_without_steps(store: Store) -> None:
    run = await create_run(store)
    # Logged without steps (MLflow uses step 0): buckets go by position, so the shape survives.
    await store.metrics.log(run, [("flat", float(i % 7), 0, i) for i in range(1000)])
    history = await store.metrics.history(run, "flat", max_points=40)
    assert 20 <= len(history.steps) <= 40
    assert history.timestamps[0] == 0 and history.timestamps[-1] == 999
    assert history.timestamps == sorted(history.timestamps)

    await store.metrics.log(run, [("r", float(i), i, i) for i in range(1000)])
    ranged = await store.metrics.history(run, "r", min_step=100, max_step=199, max_points=10)
    assert ranged.total_points == 100
    assert ranged.steps[0] == 100 and ranged.steps[-1] == 199 and len(ranged.steps) <= 10


async def test_small_histories_are_not_downsampled(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("m", float(i), i, i) for i in range(10)])
    history = await store.metrics.history(run, "m", max_points=10)
    assert history.steps == list(range(10))


@pytest.mark.parametrize("max_points", [0, 1, -5, True, 2.5])
async def test_max_points_must_be_an_integer_of_at_least_two(
    store: Store, max_points: object
) -> None:
    run = await create_run(store)
    with pytest.raises(InvalidInput):
        await store.metrics.history(run, "m", max_points=max_points)  # type: ignore[arg-type]


async def test_latest_takes_the_greatest_step_not_the_last_logged(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("m", 10.0, 10, 100)])
    await store.metrics.log(run, [("m", 5.0, 5, 999)])  # later in time, earlier step
    assert await store.metrics.latest(run) == {"m": MetricPoint("m", 10.0, 10, 100)}
    await store.metrics.log(run, [("m", 11.0, 10, 101)])  # same step, later timestamp
    assert (await store.metrics.latest(run))["m"] == MetricPoint("m", 11.0, 10, 101)
    await store.metrics.log(run, [("m", 7.0, 10, 101)])  # full tie: the greater value wins
    assert (await store.metrics.latest(run))["m"].value == 11.0
    await store.metrics.log(run, [("m", 12.0, 10, 101)])
    assert (await store.metrics.latest(run))["m"].value == 12.0


async def test_latest_treats_nan_as_greatest_regardless_of_arrival_order(store: Store) -> None:
    points = [("m", NAN, 3, 30), ("m", INF, 3, 30), ("m", 1.0, 3, 30), ("m", 0.0, 2, 99)]
    for order in (points, list(reversed(points))):
        run = await create_run(store)
        for point in order:  # one point per call: the comparison runs against stored rows
            await store.metrics.log(run, [point])
        latest = (await store.metrics.latest(run))["m"]
        assert (latest.step, latest.timestamp) == (3, 30) and math.isnan(latest.value)
        other = await create_run(store)
        await store.metrics.log(other, order)  # all in one batch: the same rule
        assert math.isnan((await store.metrics.latest(other))["m"].value)


async def test_latest_and_keys_of_a_run_without_metrics(store: Store) -> None:
    run = await create_run(store)
    assert await store.metrics.latest(run) == {}
    assert await store.metrics.keys(run) == []


async def test_unknown_key_has_an_empty_history(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("m", 1.0, 0, 0)])
    history = await store.metrics.history(run, "never_logged")
    assert (history.steps, history.timestamps, history.values) == ([], [], [])
    assert history.total_points == 0


async def test_unknown_run_is_not_found_everywhere(store: Store) -> None:
    missing = uuid.uuid4().hex
    with pytest.raises(NotFound):
        await store.metrics.log(missing, [("m", 1.0, 0, 0)])
    with pytest.raises(NotFound):
        await store.metrics.log(missing, [("m", 1.0, 0, 0)], idempotency_key="k1")
    with pytest.raises(NotFound):
        await store.metrics.log(missing, [])
    with pytest.raises(NotFound):
        await store.metrics.history(missing, "m")
    with pytest.raises(NotFound):
        await store.metrics.latest(missing)
    with pytest.raises(NotFound):
        await store.metrics.keys(missing)
    with pytest.raises(InvalidInput):
        await store.metrics.latest("not-a-run-id")


async def test_a_deleted_run_refuses_writes_but_can_be_read(store: Store) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("m", 1.0, 0, 0)])
    await delete_run(store, run)
    with pytest.raises(InvalidState):
        await store.metrics.log(run, [("m", 2.0, 1, 1), ("n", 1.0, 0, 0)])
    with pytest.raises(InvalidState):
        await store.metrics.log(run, [("m", 2.0, 1, 1)], idempotency_key="after-delete")
    assert await stored_counts(store, run) == (1, 1, 1)
    assert (await store.metrics.history(run, "m")).values == [1.0]
    async with pooled(store.pool) as conn:
        cur = await conn.execute("SELECT count(*) FROM ingest_receipt")
        assert await cur.fetchone() == (0,)

    never_active = await create_run(store, deleted=True)
    with pytest.raises(InvalidState):
        await store.metrics.log(never_active, [("m", 1.0, 0, 0)])
    assert await stored_counts(store, never_active) == (0, 0, 0)


async def test_idempotent_retry_applies_once_and_returns_the_first_count(store: Store) -> None:
    run = await create_run(store)
    points = [("m", float(i), i, i) for i in range(5)]
    assert await store.metrics.log(run, points, idempotency_key="flush-1") == 5
    assert await store.metrics.log(run, points, idempotency_key="flush-1") == 5
    # A retry is recognised by its key alone, even if the client rebuilt a different batch.
    assert await store.metrics.log(run, points[:2], idempotency_key="flush-1") == 5
    assert await stored_counts(store, run) == (1, 1, 5)
    assert await store.metrics.log(run, points[:2], idempotency_key="flush-2") == 2
    assert (await store.metrics.history(run, "m")).steps == [0, 0, 1, 1, 2, 3, 4]
    # Keys are per run: another run may use the same key.
    other = await create_run(store)
    assert await store.metrics.log(other, points, idempotency_key="flush-1") == 5
    assert await stored_counts(store, other) == (1, 1, 5)


@pytest.mark.parametrize("key", ["", "x" * 129, 17])
async def test_invalid_idempotency_key_is_rejected_before_writing(
    store: Store, key: object
) -> None:
    run = await create_run(store)
    with pytest.raises(InvalidInput):
        await store.metrics.log(run, [("m", 1.0, 0, 0)], idempotency_key=key)  # type: ignore[arg-type]
    assert await stored_counts(store, run) == (0, 0, 0)


BAD_BATCHES: list[tuple[str, object]] = [
    ("bad key", [("ok", 1.0, 0, 0), ("../escape", 1.0, 0, 0)]),
    ("empty key", [("ok", 1.0, 0, 0), ("", 1.0, 0, 0)]),
    ("key not str", [("ok", 1.0, 0, 0), (5, 1.0, 0, 0)]),
    ("value is str", [("ok", 1.0, 0, 0), ("ok", "1.0", 1, 0)]),
    ("value is bool", [("ok", True, 0, 0)]),
    ("value is None", [("ok", None, 0, 0)]),
    ("step is float", [("ok", 1.0, 0.5, 0)]),
    ("step too big", [("ok", 1.0, 2**63, 0)]),
    ("timestamp too small", [("ok", 1.0, 0, -(2**63) - 1)]),
    ("short tuple", [("ok", 1.0, 0)]),
    ("not a sequence", 42),
    ("a string", "ok,1.0,0,0"),
    (
        "ragged columns",
        MetricBatch(keys=["a", "b"], values=[1.0], steps=[0, 1], timestamps=[0, 1]),
    ),
    (
        "too many points",
        MetricBatch(
            keys=["a"] * 100_001,
            values=[1.0] * 100_001,
            steps=[0] * 100_001,
            timestamps=[0] * 100_001,
        ),
    ),
]


@pytest.mark.parametrize(("case", "points"), BAD_BATCHES, ids=[c for c, _ in BAD_BATCHES])
async def test_invalid_points_reject_the_whole_batch(
    store: Store, case: str, points: object
) -> None:
    run = await create_run(store)
    await store.metrics.log(run, [("ok", 0.0, 0, 0)])
    with pytest.raises(InvalidInput):
        await store.metrics.log(run, points)  # type: ignore[arg-type]
    assert await stored_counts(store, run) == (1, 1, 1)
    assert (await store.metrics.latest(run))["ok"] == MetricPoint("ok", 0.0, 0, 0)


async def test_the_batch_limit_itself_is_accepted(store: Store) -> None:
    run = await create_run(store)
    count = 100_000
    batch = MetricBatch(
        keys=[f"k{i % 3}" for i in range(count)],
        values=[float(i) for i in range(count)],
        steps=list(range(count)),
        timestamps=[0] * count,
    )
    assert await store.metrics.log(run, batch) == count
    series, _, points = await stored_counts(store, run)
    assert (series, points) == (3, count)


async def test_int64_bounds_negative_steps_and_unicode_keys_round_trip(store: Store) -> None:
    run = await create_run(store)
    low, high = -(2**63), 2**63 - 1
    points = [
        ("grün/loss", 1.0, high, high),
        ("grün/loss", 2.0, low, low),
        ("grün/loss", 3.0, -1, 0),
        ("ascii", 4.0, 0, -5),
    ]
    assert await store.metrics.log(run, points) == 4
    history = await store.metrics.history(run, "grün/loss")
    assert history.steps == [low, -1, high]
    assert history.timestamps == [low, 0, high]
    assert history.values == [2.0, 3.0, 1.0]
    assert (await store.metrics.history(run, "grün/loss", min_step=low, max_step=-1)).steps == [
        low,
        -1,
    ]
    latest = await store.metrics.latest(run)
    assert latest["grün/loss"] == MetricPoint("grün/loss", 1.0, high, high)
    assert latest["ascii"] == MetricPoint("ascii", 4.0, 0, -5)
