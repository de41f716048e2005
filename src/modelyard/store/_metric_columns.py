"""Metric batches as validated columns, checked before any SQL runs.

``log`` takes points column-wise (:class:`MetricBatch`, the fast path, as the server decodes them)
or as ``(key, value, step, timestamp)`` tuples / :class:`MetricPoint` records. Either way the
batch is checked here in full first, so an invalid point rejects the whole batch and nothing is
written. The checks take a fast path over whole columns (``all(type(v) is float ...)`` runs in
C) and fall back to the per-item checks of :mod:`validation` only to name the bad item.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from modelyard.errors import InvalidInput
from modelyard.store import validation


class MetricPoint(msgspec.Struct, frozen=True):
    """One metric point; ``timestamp`` is milliseconds since the epoch (MLflow's convention)."""

    key: str
    value: float
    step: int
    timestamp: int


class MetricBatch(msgspec.Struct):
    """Points column-wise: item ``i`` of each list is one point."""

    keys: list[str]
    values: list[float]
    steps: list[int]
    timestamps: list[int]

    def __len__(self) -> int:
        return len(self.keys)


MetricPoints = MetricBatch | Sequence[tuple[str, float, int, int]] | Sequence[MetricPoint]


def to_batch(points: object) -> MetricBatch:
    """``points`` as a validated :class:`MetricBatch` (values as floats), or InvalidInput."""
    if isinstance(points, MetricBatch):
        batch = points
    elif isinstance(points, Sequence) and not isinstance(points, str | bytes):
        batch = _from_rows(points)
    else:
        raise InvalidInput("metrics must be a MetricBatch or a sequence of points", field="metrics")
    return check_batch(batch)


def _from_rows(rows: Sequence[object]) -> MetricBatch:
    validation.check_batch_size(len(rows), validation.MAX_BATCH_METRICS, "metrics")
    keys: list[str] = []
    values: list[float] = []
    steps: list[int] = []
    timestamps: list[int] = []
    for index, row in enumerate(rows):
        if isinstance(row, MetricPoint):
            key, value, step, timestamp = row.key, row.value, row.step, row.timestamp
        elif isinstance(row, tuple | list) and len(row) == 4:
            key, value, step, timestamp = row
        else:
            raise InvalidInput(
                f"metric {index} must be a (key, value, step, timestamp) tuple",
                field="metrics",
                index=index,
            )
        keys.append(key)
        values.append(value)
        steps.append(step)
        timestamps.append(timestamp)
    return MetricBatch(keys=keys, values=values, steps=steps, timestamps=timestamps)


def check_batch(batch: MetricBatch) -> MetricBatch:
    """Validate every column of ``batch``; returns it with int values turned into floats."""
    count = len(batch.keys)
    validation.check_batch_size(count, validation.MAX_BATCH_METRICS, "metrics")
    columns = (batch.values, batch.steps, batch.timestamps)
    if any(not isinstance(column, list) or len(column) != count for column in columns):
        raise InvalidInput("metric columns must be lists of equal length", field="metrics")
    for key in set(batch.keys) if all(type(k) is str for k in batch.keys) else batch.keys:
        validation.check_key(key, "metric key")
    values = batch.values
    if not all(type(v) is float for v in values):
        values = [validation.check_metric_value(v, "metric value") for v in values]
    _check_int64_column(batch.steps, "metric step")
    _check_int64_column(batch.timestamps, "metric timestamp")
    return MetricBatch(
        keys=batch.keys, values=values, steps=batch.steps, timestamps=batch.timestamps
    )


def _check_int64_column(column: list[int], field: str) -> None:
    if not column:
        return
    if all(type(v) is int for v in column) and (
        validation.MIN_INT64 <= min(column) and max(column) <= validation.MAX_INT64
    ):
        return
    for value in column:  # slow path only to name the offending item
        validation.check_int64(value, field)


def check_idempotency_key(key: object) -> str | None:
    """An optional retry key: 1 to 128 characters (the ingest_receipt_key_ck limit)."""
    if key is None:
        return None
    if not isinstance(key, str) or not 1 <= len(key) <= 128:
        raise InvalidInput(
            "idempotency key must be a string of 1 to 128 characters", field="idempotency_key"
        )
    return validation.check_text(key, "idempotency_key", 128)
