-- Queries of logged models (modelyard/store/logged_models.py). Queries returning models list
-- the columns of logged_model_records.model_from_row: the model's columns, created and updated
-- ms, tags and params (jsonb) and registrations (jsonb array of {name, version}).

-- name: lock_experiment
SELECT lifecycle_stage, workspace_id FROM experiment
WHERE experiment_id = %(experiment_id)s
FOR SHARE

-- name: insert
INSERT INTO logged_model (model_id, workspace_id, experiment_id, name, model_type, source_run_id,
                          artifact_path, flavor, metadata, user_id)
VALUES (%(model_id)s, %(ws)s, %(experiment_id)s, %(name)s, %(model_type)s, %(source_run_id)s,
        %(artifact_path)s, %(flavor)s, %(metadata)s::jsonb, %(user_id)s)

-- name: insert_params
INSERT INTO logged_model_param (model_id, key, value)
SELECT %(model_id)s, p.key, p.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS p (key, value)

-- name: upsert_tags
INSERT INTO logged_model_tag (model_id, key, value)
SELECT %(model_id)s, t.key, t.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS t (key, value)
ORDER BY t.key
ON CONFLICT ON CONSTRAINT logged_model_tag_pk DO UPDATE SET value = EXCLUDED.value

-- name: delete_tag
DELETE FROM logged_model_tag WHERE model_id = %(model_id)s AND key = %(key)s
RETURNING key

-- name: get
SELECT lm.model_id, lm.experiment_id, lm.name, lm.model_type, lm.source_run_id, lm.status,
       lm.status_message, lm.artifact_path, lm.flavor, lm.metadata, lm.user_id,
       lm.lifecycle_stage,
       floor(extract(epoch FROM lm.created_at) * 1000)::bigint AS created_ms,
       floor(extract(epoch FROM lm.updated_at) * 1000)::bigint AS updated_ms,
       coalesce((SELECT jsonb_object_agg(t.key, t.value) FROM logged_model_tag t
                 WHERE t.model_id = lm.model_id), '{}'::jsonb) AS tags,
       coalesce((SELECT jsonb_object_agg(p.key, p.value) FROM logged_model_param p
                 WHERE p.model_id = lm.model_id), '{}'::jsonb) AS params,
       coalesce((SELECT jsonb_agg(jsonb_build_object('name', r.name, 'version', r.version)
                                  ORDER BY r.name, r.version)
                 FROM model_version_record r WHERE r.logged_model_id = lm.model_id),
                '[]'::jsonb) AS registrations,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                            'model_id', m.model_id, 'key', m.key, 'value', m.value,
                            'step', m.step, 'timestamp', m.timestamp_ms, 'run_id', m.run_id,
                            'dataset_name', m.dataset_name, 'dataset_digest', m.dataset_digest)
                        ORDER BY m.key, m.step, m.timestamp_ms, m.run_id, m.dataset_name,
                                 m.dataset_digest)
                 FROM logged_model_metric m WHERE m.model_id = lm.model_id),
                '[]'::jsonb) AS metrics
FROM logged_model lm
WHERE lm.model_id = ANY(%(model_ids)s::text[]) AND lm.workspace_id = %(ws)s

-- name: list
-- Newest first on logged_model_experiment_idx; the cursor is the last (created_at, model_id).
SELECT lm.model_id
FROM logged_model lm
WHERE lm.experiment_id = %(experiment_id)s AND lm.workspace_id = %(ws)s
  AND lm.lifecycle_stage = 'active'
  AND (%(after_created)s::timestamptz IS NULL
       OR (lm.created_at, lm.model_id) < (%(after_created)s::timestamptz, %(after_id)s::text))
ORDER BY lm.created_at DESC, lm.model_id DESC
LIMIT %(limit)s

-- name: created_at
SELECT created_at FROM logged_model WHERE model_id = %(model_id)s

-- name: lock
SELECT lm.status, lm.source_run_id, lm.artifact_path
FROM logged_model lm
WHERE lm.model_id = %(model_id)s AND lm.workspace_id = %(ws)s
FOR NO KEY UPDATE

-- name: has_artifact
SELECT EXISTS (SELECT 1 FROM run_artifact WHERE run_id = %(run_id)s AND path = %(path)s)

-- name: finalize
UPDATE logged_model
SET status = %(status)s, status_message = %(status_message)s, updated_at = now()
WHERE model_id = %(model_id)s

-- name: insert_outputs
INSERT INTO run_model_output (run_id, model_id, step)
SELECT %(run_id)s, o.model_id, o.step
FROM unnest(%(model_ids)s::text[], %(steps)s::bigint[]) AS o (model_id, step)
ORDER BY o.model_id, o.step
ON CONFLICT ON CONSTRAINT run_model_output_pk DO NOTHING

-- name: insert_inputs
INSERT INTO run_model_input (run_id, model_id)
SELECT %(run_id)s, i.model_id
FROM unnest(%(model_ids)s::text[]) AS i (model_id)
ORDER BY i.model_id
ON CONFLICT ON CONSTRAINT run_model_input_pk DO NOTHING

-- name: outputs_of_runs
SELECT o.run_id, o.model_id, o.step FROM run_model_output o
WHERE o.run_id = ANY(%(run_ids)s::uuid[])
ORDER BY o.run_id, o.created_at, o.model_id, o.step

-- name: inputs_of_runs
SELECT i.run_id, i.model_id FROM run_model_input i
WHERE i.run_id = ANY(%(run_ids)s::uuid[])
ORDER BY i.run_id, i.created_at, i.model_id

-- name: insert_metrics
-- A run's metric points for logged models of this workspace, in the caller's transaction (the
-- run's own series gets them too). Answers the model ids that are not (active) models here;
-- then nothing is written, and the caller refuses the batch. A repeated point is kept once.
WITH point AS (
    SELECT * FROM unnest(%(model_ids)s::text[], %(keys)s::text[], %(values)s::float8[],
                         %(steps)s::bigint[], %(timestamps)s::bigint[],
                         %(dataset_names)s::text[], %(dataset_digests)s::text[])
                  AS p (model_id, key, value, step, timestamp_ms, dataset_name, dataset_digest)
), missing AS (
    SELECT DISTINCT p.model_id FROM point p
    WHERE NOT EXISTS (SELECT 1 FROM logged_model lm
                      WHERE lm.model_id = p.model_id AND lm.workspace_id = %(ws)s
                        AND lm.lifecycle_stage = 'active')
), written AS (
    INSERT INTO logged_model_metric
        (model_id, key, value, step, timestamp_ms, run_id, dataset_name, dataset_digest)
    SELECT p.model_id, p.key, p.value, p.step, p.timestamp_ms, %(run_id)s, p.dataset_name,
           p.dataset_digest
    FROM point p
    WHERE NOT EXISTS (SELECT 1 FROM missing)
    ON CONFLICT ON CONSTRAINT logged_model_metric_point_uq DO NOTHING
)
SELECT model_id FROM missing ORDER BY model_id

-- name: missing_models
SELECT m.model_id FROM unnest(%(model_ids)s::text[]) AS m (model_id)
WHERE NOT EXISTS (SELECT 1 FROM logged_model lm
                  WHERE lm.model_id = m.model_id AND lm.workspace_id = %(ws)s)

-- name: add_params
-- Params logged after creation (MLflow's LogLoggedModelParams); a key already there keeps its
-- value, and conflicting_params below tells whether the caller tried to change it.
INSERT INTO logged_model_param (model_id, key, value)
SELECT %(model_id)s, p.key, p.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS p (key, value)
ORDER BY p.key
ON CONFLICT ON CONSTRAINT logged_model_param_pk DO NOTHING

-- name: conflicting_params
SELECT p.key, p.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS n (key, value)
JOIN logged_model_param p ON p.model_id = %(model_id)s AND p.key = n.key
WHERE p.value <> n.value
LIMIT 1

-- name: soft_delete
UPDATE logged_model SET lifecycle_stage = 'deleted', updated_at = now()
WHERE model_id = %(model_id)s AND workspace_id = %(ws)s AND lifecycle_stage = 'active'
RETURNING model_id
