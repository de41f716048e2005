-- Queries of the web UI's read models (modelyard/store/overview.py): summaries the REST resources
-- do not need, each one statement over the same tables.

-- name: experiment_summaries
-- Experiments of a workspace with their run counts and last activity (the latest of the
-- experiment's own update, a run's start and a run's end). The count and the latest start are
-- index range scans of run_experiment_start_idx.
SELECT e.experiment_id, e.name, e.lifecycle_stage,
       floor(extract(epoch FROM e.created_at) * 1000)::bigint AS created,
       s.runs, s.active_runs, s.running_runs,
       floor(extract(epoch FROM greatest(e.updated_at, s.last_start, s.last_end)) * 1000)::bigint
           AS last_activity
FROM experiment e
CROSS JOIN LATERAL (
    SELECT count(*) AS runs,
           count(*) FILTER (WHERE r.lifecycle_stage = 'active') AS active_runs,
           count(*) FILTER (WHERE r.status = 'RUNNING' AND r.lifecycle_stage = 'active')
               AS running_runs,
           max(r.start_time) AS last_start,
           max(r.end_time) AS last_end
    FROM run r WHERE r.experiment_id = e.experiment_id
) s
WHERE e.workspace_id = %(workspace_id)s
  AND (%(lifecycle)s = 'all' OR e.lifecycle_stage = %(lifecycle)s)
ORDER BY e.experiment_id
LIMIT %(limit)s

-- name: child_counts
SELECT r.parent_run_id, count(*)
FROM run r
WHERE r.parent_run_id = ANY(%(run_ids)s::uuid[])
  AND (%(lifecycle)s = 'all' OR r.lifecycle_stage = %(lifecycle)s)
GROUP BY r.parent_run_id

-- name: children
-- Child runs of one run, newest first (run_parent_idx).
SELECT r.run_id
FROM run r
WHERE r.parent_run_id = %(run_id)s
  AND (%(lifecycle)s = 'all' OR r.lifecycle_stage = %(lifecycle)s)
ORDER BY r.start_time DESC, r.run_id
LIMIT %(limit)s

-- name: metric_extremes
-- Minimum and maximum of the given metrics of the given runs, from the chunk summaries alone (the
-- ingest writes one with every chunk), so the points are never read. NaN is above every number,
-- as in sorting.
SELECT r.run_id, r.key, min(u.lo) AS min_value, max(u.hi) AS max_value
FROM metric_chunk_rollup r
CROSS JOIN LATERAL unnest(r.min_vals, r.max_vals) AS u (lo, hi)
WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.key = ANY(%(keys)s::text[])
GROUP BY r.run_id, r.key

-- name: metric_keys
-- The metric keys logged in an experiment: a loose index scan of metric_series_sort_idx
-- (experiment_id, key, ...), one probe per distinct key, so 100,000 runs cost what 10 do.
WITH RECURSIVE keys (key) AS (
    (SELECT s.key FROM metric_series s WHERE s.experiment_id = %(experiment_id)s
     ORDER BY s.key LIMIT 1)
    UNION ALL
    SELECT (SELECT s.key FROM metric_series s
            WHERE s.experiment_id = %(experiment_id)s AND s.key > k.key
            ORDER BY s.key LIMIT 1)
    FROM keys k
    WHERE k.key IS NOT NULL
)
SELECT key FROM keys WHERE key IS NOT NULL LIMIT %(limit)s

-- name: versions_of_run
SELECT mv.name, mv.version, mv.stage, mv.aliases, mv.creation_timestamp
FROM model_version_record mv
WHERE mv.run_id = %(run_id)s AND mv.workspace_id = %(workspace_id)s
ORDER BY mv.name, mv.version

-- name: running_runs
-- Runs still RUNNING, newest first, in one experiment or in all of a workspace's.
SELECT r.run_id
FROM run r
WHERE r.status = 'RUNNING' AND r.lifecycle_stage = 'active'
  AND r.workspace_id = %(workspace_id)s
  AND (%(experiment_id)s::bigint IS NULL OR r.experiment_id = %(experiment_id)s::bigint)
ORDER BY r.start_time DESC, r.run_id
LIMIT %(limit)s
