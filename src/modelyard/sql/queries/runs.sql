-- Queries of the runs repository (modelyard/store/runs.py and run_data.py).

-- name: lock_experiment
-- FOR SHARE: many runs may be created at once, but not while the experiment is being deleted.
SELECT lifecycle_stage, workspace_id, artifact_location
FROM experiment
WHERE experiment_id = %(experiment_id)s
FOR SHARE

-- name: insert
INSERT INTO run (run_id, experiment_id, workspace_id, name, start_time, parent_run_id, user_id,
                 artifact_uri)
VALUES (%(run_id)s, %(experiment_id)s, %(workspace_id)s, %(name)s,
        COALESCE(%(start_time)s::timestamptz, now()), %(parent_run_id)s, %(user_id)s,
        %(artifact_uri)s)

-- name: lock_for_data
-- Writers of params, tags (and metrics) take FOR SHARE of the run row: they do not block each
-- other, but a concurrent delete, restore or status change (FOR NO KEY UPDATE) waits for them, and
-- they wait for it and then see its result.
SELECT r.lifecycle_stage AS run_stage, e.lifecycle_stage AS experiment_stage, r.experiment_id,
       r.status, r.start_time
FROM run r
JOIN experiment e ON e.experiment_id = r.experiment_id
WHERE r.run_id = %(run_id)s
FOR SHARE OF r

-- name: lock_for_update
SELECT r.lifecycle_stage AS run_stage, e.lifecycle_stage AS experiment_stage, r.experiment_id,
       r.status, r.start_time
FROM run r
JOIN experiment e ON e.experiment_id = r.experiment_id
WHERE r.run_id = %(run_id)s
FOR NO KEY UPDATE OF r

-- name: update
-- keep_end: a rename alone leaves end_time as it is. end_now: a terminal status without an
-- explicit end time ends the run now (never before it started, in case the client gave a start
-- time in the future). Otherwise end_time is the given value, NULL for a non-terminal status; the
-- caller has checked that a given value is not before start_time at millisecond precision, and
-- greatest() keeps one in start_time's own millisecond (start_time holds microseconds) from
-- breaking run_end_time_ck.
UPDATE run
SET status = %(status)s,
    name = COALESCE(%(name)s, name),
    end_time = CASE WHEN %(keep_end)s THEN end_time
                    WHEN %(end_now)s THEN greatest(now(), start_time)
                    WHEN %(end_time)s::timestamptz IS NULL THEN NULL
                    ELSE greatest(%(end_time)s::timestamptz, start_time) END
WHERE run_id = %(run_id)s

-- name: set_lifecycle
UPDATE run
SET lifecycle_stage = %(lifecycle_stage)s,
    deleted_at = CASE WHEN %(lifecycle_stage)s = 'deleted' THEN now() END
WHERE run_id = %(run_id)s

-- name: insert_params
-- Keys are inserted in key order so that two batches sharing keys take the unique-index locks in
-- the same order and cannot deadlock. A concurrent insert of the same key waits here until the
-- other transaction ends, then skips the key; conflicting_params (a later statement, so a newer
-- snapshot) then sees the winner's value.
INSERT INTO run_param (run_id, key, value)
SELECT %(run_id)s, p.key, p.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS p (key, value)
ORDER BY p.key
ON CONFLICT ON CONSTRAINT run_param_pk DO NOTHING

-- name: conflicting_params
SELECT p.key, stored.value, p.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS p (key, value)
JOIN run_param stored ON stored.run_id = %(run_id)s AND stored.key = p.key
WHERE stored.value <> p.value
ORDER BY p.key

-- name: upsert_tags
INSERT INTO run_tag (run_id, key, value)
SELECT %(run_id)s, t.key, t.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS t (key, value)
ORDER BY t.key
ON CONFLICT ON CONSTRAINT run_tag_pk DO UPDATE SET value = EXCLUDED.value

-- name: tag_value
SELECT value FROM run_tag WHERE run_id = %(run_id)s AND key = %(key)s

-- name: delete_tag
DELETE FROM run_tag WHERE run_id = %(run_id)s AND key = %(key)s
RETURNING key

-- name: load
-- Runs with their params, tags and latest metrics in one statement, in the order of the given
-- ids (ids that do not exist are skipped). Each LATERAL subquery is an index range scan on the
-- child table's primary key, which starts with run_id.
SELECT r.run_id, r.experiment_id, r.name, r.status, r.start_time, r.end_time,
       r.lifecycle_stage, r.user_id, r.artifact_uri, r.parent_run_id,
       p.keys, p.vals, t.keys, t.vals,
       m.keys, m.vals, m.steps, m.timestamps
FROM unnest(%(run_ids)s::uuid[]) WITH ORDINALITY AS wanted (run_id, position)
JOIN run r ON r.run_id = wanted.run_id
CROSS JOIN LATERAL (
    SELECT array_agg(key ORDER BY key) AS keys, array_agg(value ORDER BY key) AS vals
    FROM run_param WHERE run_id = r.run_id
) p
CROSS JOIN LATERAL (
    SELECT array_agg(key ORDER BY key) AS keys, array_agg(value ORDER BY key) AS vals
    FROM run_tag WHERE run_id = r.run_id
) t
CROSS JOIN LATERAL (
    SELECT array_agg(key ORDER BY key) AS keys,
           array_agg(last_value ORDER BY key) AS vals,
           array_agg(last_step ORDER BY key) AS steps,
           array_agg(last_timestamp ORDER BY key) AS timestamps
    FROM metric_series WHERE run_id = r.run_id
) m
ORDER BY wanted.position

-- name: list
-- Keyset pagination in the order of run_experiment_start_idx (start_time DESC, run_id ASC).
-- Without a cursor after_start is NULL and 'infinity' lets every row through. The redundant
-- start_time <= bound gives the planner an index bound; the OR handles ties on start_time.
SELECT r.run_id, r.start_time
FROM run r
WHERE r.experiment_id = ANY(%(experiment_ids)s::bigint[])
  AND r.workspace_id = %(workspace_id)s
  AND (%(lifecycle)s = 'all' OR r.lifecycle_stage = %(lifecycle)s)
  AND r.start_time <= COALESCE(%(after_start)s::timestamptz, 'infinity')
  AND (r.start_time < COALESCE(%(after_start)s::timestamptz, 'infinity')
       OR r.run_id > %(after_run_id)s::uuid)
ORDER BY r.start_time DESC, r.run_id
LIMIT %(limit)s
