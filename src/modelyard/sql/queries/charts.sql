-- Queries of the chart downsampler (modelyard/store/metric_charts.py).
--
-- A chart asks for one series over an x range (steps, or timestamps in ms) cut into %(buckets)s
-- buckets of equal width, about two per pixel, and gets each bucket's minimum and maximum value
-- with the x extent of the points that hold them: a spike one point wide survives. The points are
-- never sent whole: a bucket is summarised here, in PostgreSQL.

-- name: bounds
-- The x extent of the series inside [lo, hi] and about how many points it holds there (whole
-- blocks counted, so within a block's size at each end), read from the summaries alone.
SELECT min(CASE WHEN %(by_time)s THEN b.min_time ELSE b.min_step END) AS x_min,
       max(CASE WHEN %(by_time)s THEN b.max_time ELSE b.max_step END) AS x_max,
       coalesce(sum(b.points), 0)::bigint AS points
FROM metric_chunk_rollup r
CROSS JOIN LATERAL (
    SELECT u.min_step, u.max_step, u.min_time, u.max_time,
           least(%(block)s, r.point_count - (u.ord - 1) * %(block)s) AS points
    FROM unnest(r.min_steps, r.max_steps, r.min_times, r.max_times) WITH ORDINALITY
         AS u (min_step, max_step, min_time, max_time, ord)
) b
WHERE r.run_id = %(run_id)s AND r.key = %(key)s
  AND CASE WHEN %(by_time)s THEN b.max_time >= %(lo)s AND b.min_time <= %(hi)s
           ELSE b.max_step >= %(lo)s AND b.min_step <= %(hi)s END

-- name: bounds_whole
-- The same for a whole series on the step axis (the default chart), from one summary row per
-- chunk without unnesting its blocks: a chunk is sorted by step, so its first block's first step
-- and its last block's last step are its extent, and point_count is exact.
SELECT min(r.min_steps[1]) AS x_min,
       max(r.max_steps[cardinality(r.max_steps)]) AS x_max,
       coalesce(sum(r.point_count), 0)::bigint AS points
FROM metric_chunk_rollup r
WHERE r.run_id = %(run_id)s AND r.key = %(key)s

-- name: buckets_from_blocks
-- For wide ranges (many blocks per bucket): each block falls in the bucket of its first x, and a
-- bucket keeps the extremes of its blocks. Blocks straddling lo or hi count whole.
SELECT floor((b.x_lo - %(x_min)s)::float8 * %(buckets)s / (%(x_max)s - %(x_min)s + 1))::integer
           AS bucket,
       min(b.x_lo) AS x_first, max(b.x_hi) AS x_last,
       min(b.min_val) AS min_value, max(b.max_val) AS max_value, count(*) AS blocks
FROM metric_chunk_rollup r
CROSS JOIN LATERAL (
    SELECT CASE WHEN %(by_time)s THEN u.min_time ELSE u.min_step END AS x_lo,
           CASE WHEN %(by_time)s THEN u.max_time ELSE u.max_step END AS x_hi,
           u.min_val, u.max_val
    FROM unnest(r.min_steps, r.max_steps, r.min_times, r.max_times, r.min_vals, r.max_vals)
         AS u (min_step, max_step, min_time, max_time, min_val, max_val)
) b
WHERE r.run_id = %(run_id)s AND r.key = %(key)s
  AND b.x_hi >= %(x_min)s AND b.x_lo <= %(x_max)s
GROUP BY 1
ORDER BY 1

-- name: buckets_from_points
-- For narrower ranges (a few blocks per bucket at most): the points themselves, bucketed by x.
-- Chunks outside the step range are skipped by their bounds; on the time axis by their summary.
SELECT floor((p.x - %(x_min)s)::float8 * %(buckets)s / (%(x_max)s - %(x_min)s + 1))::integer
           AS bucket,
       min(p.x) AS x_first, max(p.x) AS x_last,
       min(p.val) AS min_value, max(p.val) AS max_value, count(*) AS points
FROM metric_chunk c
CROSS JOIN LATERAL unnest(CASE WHEN %(by_time)s THEN c.timestamps ELSE c.steps END, c.vals)
     AS p (x, val)
WHERE c.run_id = %(run_id)s AND c.key = %(key)s
  AND (%(by_time)s OR (c.max_step >= %(x_min)s AND c.min_step <= %(x_max)s))
  AND p.x BETWEEN %(x_min)s AND %(x_max)s
GROUP BY 1
ORDER BY 1

-- name: points
-- Few enough points to send them all: the range at full detail, ordered by x.
SELECT p.step, p.ts, p.val
FROM metric_chunk c
CROSS JOIN LATERAL unnest(c.steps, c.timestamps, c.vals) AS p (step, ts, val)
WHERE c.run_id = %(run_id)s AND c.key = %(key)s
  AND (%(by_time)s OR (c.max_step >= %(lo)s AND c.min_step <= %(hi)s))
  AND CASE WHEN %(by_time)s THEN p.ts ELSE p.step END BETWEEN %(lo)s AND %(hi)s
ORDER BY CASE WHEN %(by_time)s THEN p.ts ELSE p.step END, p.step, p.ts
LIMIT %(limit)s
