"""Turns a series' chunks into one ordered, step-ranged, optionally downsampled history.

Each chunk's arrays are sorted by (step, timestamp) when written, and the chunks arrive ordered
by their first step, so for a series logged in step order the history is the chunks' arrays
concatenated: no per-point work beyond list copies (a 100,000-point read costs a few
milliseconds here). Points logged out of order leave chunks whose step ranges overlap; only then
is the whole range sorted.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from operator import itemgetter

Columns = tuple[list[int], list[int], list[float]]
Chunk = tuple[Sequence[int], Sequence[int], Sequence[float]]


def assemble(chunks: Sequence[Chunk], min_step: int, max_step: int) -> Columns:
    """Concatenate ``chunks`` (sorted inside, ordered by first step) keeping min..max_step."""
    steps: list[int] = []
    timestamps: list[int] = []
    values: list[float] = []
    ordered = True
    for chunk_steps, chunk_ts, chunk_vals in chunks:
        lo = bisect_left(chunk_steps, min_step)
        hi = bisect_right(chunk_steps, max_step)
        if lo >= hi:
            continue
        if steps and (chunk_steps[lo], chunk_ts[lo]) < (steps[-1], timestamps[-1]):
            ordered = False
        steps.extend(chunk_steps[lo:hi])
        timestamps.extend(chunk_ts[lo:hi])
        values.extend(chunk_vals[lo:hi])
    if ordered:
        return steps, timestamps, values
    rows = sorted(zip(steps, timestamps, values, strict=True), key=itemgetter(0, 1))
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def downsample(columns: Columns, max_points: int) -> Columns:
    """At most ``max_points`` points that keep the shape of the curve for plotting.

    The first and the last point are always kept. The points between are split into
    ``(max_points - 2) // 2`` buckets of equal point count (by position, not by step: a metric
    logged without steps has step 0 throughout, and step buckets would collapse it to one), and
    each bucket keeps its minimum and its maximum value, so spikes survive. NaN counts as
    greater than every number (PostgreSQL's float order), so a divergence stays visible.
    """
    steps, timestamps, values = columns
    count = len(steps)
    if count <= max_points:
        return columns
    keep = {0, count - 1}
    buckets = (max_points - 2) // 2
    inner = count - 2
    for bucket in range(buckets):
        start = 1 + bucket * inner // buckets
        stop = 1 + (bucket + 1) * inner // buckets
        keep.update(_extremes(values, start, stop))
    picked = sorted(keep)
    return (
        [steps[i] for i in picked],
        [timestamps[i] for i in picked],
        [values[i] for i in picked],
    )


def _extremes(values: list[float], start: int, stop: int) -> tuple[int, int]:
    """Positions of the minimum and the maximum value in ``values[start:stop]``."""
    positions = range(start, stop)
    # sum() runs in C and is NaN exactly when a NaN (or both infinities) is present; only then
    # is the slower NaN-aware key needed, since min/max with NaN depend on the NaN's position.
    if not math.isnan(sum(values[start:stop])):
        return min(positions, key=values.__getitem__), max(positions, key=values.__getitem__)

    def order(i: int) -> tuple[bool, float]:
        value = values[i]
        return (math.isnan(value), 0.0 if math.isnan(value) else value)

    return min(positions, key=order), max(positions, key=order)
