"""Metric time series of runs: ingest by binary COPY, history read as arrays, latest values.

Points are stored column-wise in chunks (``metric_chunk``: parallel ``steps``, ``timestamps`` and
``vals`` arrays of up to ``chunk_points`` points of one series), and ``metric_series`` keeps one
row per (run, key) with the latest point and the counts. A write is one binary COPY into the
connection's staging table and one call of ``ingest_metric_staging_v2`` (schema.sql), all in one
transaction; a read fetches a few arrays instead of a row per point. docs/design.md has the why.

Unknown runs raise NotFound everywhere; an unknown key of an existing run has an empty history
(MLflow's behaviour: a metric that was never logged is an empty series, not an error).
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from modelyard.errors import IdempotencyKeyReused, InvalidInput, ModelyardError, NotFound
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store._metric_columns import (
    MetricBatch,
    MetricPoint,
    MetricPoints,
    check_idempotency_key,
    to_batch,
)
from modelyard.store._metric_copy import staging_copy
from modelyard.store._metric_history import assemble, downsample
from modelyard.store.validation import check_int64

__all__ = ["MetricBatch", "MetricHistory", "MetricPoint", "MetricPoints", "Metrics"]

# A chunk holds at most this many points (~96 KiB raw): large enough that the per-row and
# per-index-entry overhead is spread thin and TOAST compresses well, small enough that a narrow
# step range reads little beyond what it needs.
DEFAULT_CHUNK_POINTS = 4096
# A batch appends to the newest chunk while the chunk would stay at or below this many points.
# Per-step logging then writes chunks of this size instead of one-point rows, and an append
# rewrites at most ~6 KiB of arrays.
DEFAULT_APPEND_LIMIT = 256


class MetricHistory(msgspec.Struct):
    """One series column-wise, ordered by step then timestamp.

    ``total_points`` counts the points in the requested step range before downsampling.
    """

    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[float]
    total_points: int


class Metrics(Repository):
    """Metric ingest and reads; every method is one transaction."""

    def __init__(
        self,
        pool: Pool,
        *,
        chunk_points: int = DEFAULT_CHUNK_POINTS,
        append_limit: int = DEFAULT_APPEND_LIMIT,
    ) -> None:
        super().__init__(pool)
        if not 1 <= append_limit <= chunk_points:
            raise ValueError("need 1 <= append_limit <= chunk_points")
        self.chunk_points = chunk_points
        self.append_limit = append_limit

    async def log(
        self,
        run_id: str,
        points: MetricPoints,
        *,
        idempotency_key: str | None = None,
        body_digest: bytes | None = None,
    ) -> int:
        """Append ``points`` to the run's series; returns the number of points applied.

        With ``idempotency_key``, a repeated call with the same key applies nothing and returns
        the count recorded by the first one. The run must exist (NotFound) and not be deleted
        (InvalidState). The batch is validated in full before any SQL, so it lands whole or not
        at all. ``body_digest`` (the sha256 of the request that carried the batch) makes a reuse
        of the key for another body an :class:`IdempotencyKeyReused` error.
        """
        run_uuid = validation.check_uuid(run_id)
        retry_key = check_idempotency_key(idempotency_key)
        batch = to_batch(points)
        async with self.transaction() as conn:
            return await self.write(
                conn, run_uuid, batch, idempotency_key=retry_key, body_digest=body_digest
            )

    async def write(
        self,
        conn: Conn,
        run_uuid: uuid.UUID,
        batch: MetricBatch,
        *,
        idempotency_key: str | None = None,
        body_digest: bytes | None = None,
    ) -> int:
        """:meth:`log` inside the caller's transaction, with a batch already checked by
        ``to_batch``: MLflow's log-batch writes params, tags and metrics in one transaction."""
        params = {
            "run_id": run_uuid,
            "idempotency_key": idempotency_key,
            "append_limit": self.append_limit,
        }
        payload = staging_copy(batch, self.chunk_points) if len(batch) else None
        # Every time, not once per connection: a transaction-mode pooler may hand each
        # transaction to another server session (one extra round trip per batch).
        await conn.execute(query("metrics.ensure_staging"))
        if payload is not None:
            async with conn.cursor().copy(query("metrics.copy_staging")) as copy:
                await copy.write(payload)
        cur = await conn.execute(query("metrics.ingest"), params)
        row = await cur.fetchone()
        if idempotency_key is not None and body_digest is not None:
            claim = await conn.execute(
                query("metrics.claim_receipt_digest"), {**params, "digest": body_digest}
            )
            same = await claim.fetchone()
            if same is not None and same[0] is False:
                raise IdempotencyKeyReused(
                    "this idempotency key was used for a different batch; use a new key",
                    idempotency_key=idempotency_key,
                )
        applied = row[0] if row else None
        if not isinstance(applied, int):
            raise ModelyardError("metric ingest returned no count")
        return applied

    async def history(
        self,
        run_id: str,
        key: str,
        *,
        min_step: int | None = None,
        max_step: int | None = None,
        max_points: int | None = None,
    ) -> MetricHistory:
        """The points of one series in [min_step, max_step], ordered by step then timestamp.

        The range is inclusive; an empty one (``min_step > max_step``) has no points, like SQL's
        BETWEEN, rather than being an error: the bounds are independent query parameters.

        ``max_points`` (>= 2) downsamples for plotting: the first and last points and the
        minimum and maximum of each of ``(max_points - 2) // 2`` equal-count buckets.
        """
        run_uuid = validation.check_uuid(run_id)
        validation.check_key(key, "metric key")
        low = validation.MIN_INT64 if min_step is None else check_int64(min_step, "min_step")
        high = validation.MAX_INT64 if max_step is None else check_int64(max_step, "max_step")
        if max_points is not None and (
            isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 2
        ):
            raise InvalidInput("max_points must be an integer of at least 2", field="max_points")
        params = {"run_id": run_uuid, "key": key, "min_step": low, "max_step": high}
        async with self.transaction() as conn:
            # Binary results: arrays arrive as packed numbers, ~4x faster to load than text.
            cur = conn.cursor(binary=True)
            await cur.execute(query("metrics.history_chunks"), params)
            chunks: list[Any] = await cur.fetchall()
            if not chunks:
                await _require_run(conn, run_uuid)
        columns = assemble(chunks, low, high)
        total = len(columns[0])
        if max_points is not None:
            columns = downsample(columns, max_points)
        steps, timestamps, values = columns
        return MetricHistory(
            key=key, steps=steps, timestamps=timestamps, values=values, total_points=total
        )

    async def latest(self, run_id: str) -> dict[str, MetricPoint]:
        """The latest point of every series of the run (greatest step, then timestamp)."""
        run_uuid = validation.check_uuid(run_id)
        async with self.transaction() as conn:
            cur = await conn.execute(query("metrics.latest"), {"run_id": run_uuid})
            rows: list[Any] = await cur.fetchall()
            if not rows:
                await _require_run(conn, run_uuid)
        return {
            key: MetricPoint(key=key, value=value, step=step, timestamp=timestamp)
            for key, value, step, timestamp in rows
        }

    async def keys(self, run_id: str) -> list[str]:
        """The metric keys logged to the run, sorted."""
        run_uuid = validation.check_uuid(run_id)
        async with self.transaction() as conn:
            cur = await conn.execute(query("metrics.keys"), {"run_id": run_uuid})
            rows: list[Any] = await cur.fetchall()
            if not rows:
                await _require_run(conn, run_uuid)
        return [row[0] for row in rows]


async def _require_run(conn: Conn, run_uuid: object) -> None:
    cur = await conn.execute(query("metrics.run_exists"), {"run_id": run_uuid})
    row = await cur.fetchone()
    if not row or not row[0]:
        raise NotFound(f"run {run_uuid} does not exist", run_id=str(run_uuid))
