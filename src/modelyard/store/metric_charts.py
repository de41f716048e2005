"""Chart series: one metric downsampled in PostgreSQL to the extremes of each pixel-wide bucket.

A chart of width W asks for about 2W buckets of equal x width (steps, or milliseconds on the time
axis). Each bucket returns its minimum and its maximum value, placed at the first and last x of
the points in it, so a spike one point wide stays on the chart while a million-point series sends
a few thousand points. Three paths, picked by how many points the range holds:

* few (at most two per bucket): the points themselves, full detail (``charts.points``);
* up to ``BLOCK`` per bucket: the points bucketed by x in SQL (``charts.buckets_from_points``);
* more: block summaries bucketed in SQL (``charts.buckets_from_blocks``). ``metric_chunk_rollup``
  holds, per chunk, the extremes of each block of ``BLOCK`` points; the metric ingest writes it
  with the chunk (store/_metric_copy.py), so a chart only reads, and the first chart of a long
  series costs what the next one does.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from modelyard.errors import InvalidInput, NotFound
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Repository
from modelyard.store._metric_copy import ROLLUP_BLOCK
from modelyard.store.validation import check_int64

Axis = Literal["step", "time"]
AXES: tuple[str, ...] = ("step", "time")
# Points per block summary: small enough that a block is far narrower than a bucket when the
# block path is taken, large enough that a million points are ~16,000 block rows.
BLOCK = ROLLUP_BLOCK
MIN_BUCKETS = 2
MAX_BUCKETS = 8192


class ChartSeries(msgspec.Struct, kw_only=True):
    """Points to draw, ordered by x; ``total_points`` is about how many the range holds.

    ``xs`` are steps, or timestamps in ms on the time axis. ``downsampled`` is False when every
    point of the range is in ``xs``/``values``.
    """

    key: str
    axis: str
    xs: list[int]
    values: list[float]
    total_points: int
    downsampled: bool


class MetricCharts(Repository):
    """Downsampled reads of metric series for charts."""

    async def series(
        self,
        run_id: str,
        key: str,
        *,
        axis: str = "step",
        lo: int | None = None,
        hi: int | None = None,
        buckets: int = 1600,
    ) -> ChartSeries:
        """The points to draw of one series in x range [lo, hi] (inclusive; None is open)."""
        run_uuid = validation.check_uuid(run_id)
        validation.check_key(key, "metric key")
        if axis not in AXES:
            raise InvalidInput("axis must be 'step' or 'time'", field="axis")
        low = validation.MIN_INT64 if lo is None else check_int64(lo, "lo")
        high = validation.MAX_INT64 if hi is None else check_int64(hi, "hi")
        if low > high:
            raise InvalidInput("the start of the range must not exceed its end", field="lo")
        if isinstance(buckets, bool) or not MIN_BUCKETS <= buckets <= MAX_BUCKETS:
            raise InvalidInput(
                f"buckets must be from {MIN_BUCKETS} to {MAX_BUCKETS}", field="buckets"
            )
        by_time = axis == "time"
        params: dict[str, Any] = {
            "run_id": run_uuid,
            "key": key,
            "block": BLOCK,
            "by_time": by_time,
            "lo": low,
            "hi": high,
            "buckets": buckets,
        }
        whole = not by_time and lo is None and hi is None
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("charts.bounds_whole" if whole else "charts.bounds"), params
            )
            row: Any = await cur.fetchone()
            x_min, x_max, total = row if row else (None, None, 0)
            if x_min is None or x_max is None:
                await _require_run(conn, run_uuid)
                return ChartSeries(
                    key=key, axis=axis, xs=[], values=[], total_points=0, downsampled=False
                )
            if total <= 2 * buckets:
                cur = await conn.execute(query("charts.points"), {**params, "limit": 4 * buckets})
                rows: list[Any] = await cur.fetchall()
                xs = [ts if by_time else step for step, ts, _ in rows]
                return ChartSeries(
                    key=key,
                    axis=axis,
                    xs=xs,
                    values=[val for _, _, val in rows],
                    total_points=len(rows),
                    downsampled=False,
                )
            params.update(x_min=max(x_min, low), x_max=min(x_max, high))
            name = (
                "charts.buckets_from_points"
                if total <= BLOCK * buckets
                else "charts.buckets_from_blocks"
            )
            cur = await conn.execute(query(name), params)
            bucket_rows: list[Any] = await cur.fetchall()
        xs, values = _extremes(bucket_rows)
        return ChartSeries(
            key=key, axis=axis, xs=xs, values=values, total_points=total, downsampled=True
        )


def _extremes(rows: list[Any]) -> tuple[list[int], list[float]]:
    """Two points per bucket, minimum then maximum, at the bucket's first and last x.

    Inside a bucket narrower than a pixel the order of the two cannot be seen; a bucket of a
    single x value gives one x with both values, which draws as a vertical stroke.
    """
    xs: list[int] = []
    values: list[float] = []
    for _bucket, x_first, x_last, low, high, _count in rows:
        if low == high or (low != low and high != high):
            xs.append(x_first)
            values.append(low)
            continue
        xs.extend((x_first, x_last))
        values.extend((low, high))
    return xs, values


async def _require_run(conn: Any, run_uuid: object) -> None:
    cur = await conn.execute(query("metrics.run_exists"), {"run_id": run_uuid})
    row = await cur.fetchone()
    if not row or not row[0]:
        raise NotFound(f"run {run_uuid} does not exist", run_id=str(run_uuid))
