-- A populated modelyard schema for the backup tests, written set-based against schema.sql:
-- 10 experiments, 50 runs (some nested), params, tags, 100 metric series of 1,000 points each
-- (100,000 points in 400 chunks), receipts, and a registry of 5 models x 3 versions with tags
-- and aliases. Values include what text formats get wrong: newlines, tabs, backslashes, a lone
-- "\." line, empty strings, non-ASCII, NULLs, NaN and infinities.

INSERT INTO workspace (name) VALUES ('team-b');

INSERT INTO experiment (name, workspace_id, description, artifact_location, lifecycle_stage,
                        deleted_at)
SELECT 'exp-' || i,
       CASE WHEN i % 4 = 0 THEN 2 ELSE 1 END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE E'first line\nsecond\tline \\ backslash' END,
       's3://bucket/experiments/' || i,
       CASE WHEN i = 5 THEN 'deleted' ELSE 'active' END,
       CASE WHEN i = 5 THEN timestamptz '2024-03-01 12:00:00+00' END
FROM generate_series(1, 10) AS i;

INSERT INTO experiment_tag (experiment_id, workspace_id, key, value)
SELECT e.experiment_id, e.workspace_id, 'tag.' || k, CASE k WHEN 1 THEN '' WHEN 2 THEN E'\\.' ELSE 'ünïcødé ✓' END
FROM experiment e CROSS JOIN generate_series(1, 3) AS k;

INSERT INTO run (run_id, experiment_id, workspace_id, name, status, start_time, end_time, user_id,
                 artifact_uri, lifecycle_stage, deleted_at)
SELECT md5('run-' || i)::uuid,
       (SELECT min(experiment_id) FROM experiment) + i % 10,
       (SELECT e.workspace_id FROM experiment e
        WHERE e.experiment_id = (SELECT min(experiment_id) FROM experiment) + i % 10),
       'run ' || i,
       (ARRAY['RUNNING', 'FINISHED', 'FAILED', 'KILLED', 'SCHEDULED'])[1 + i % 5],
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute 0.123456 second',
       CASE WHEN i % 5 = 1 THEN timestamptz '2024-02-01 00:00:00+00' END,
       CASE WHEN i % 2 = 0 THEN 'alice' END,
       's3://bucket/runs/' || i,
       CASE WHEN i = 50 THEN 'deleted' ELSE 'active' END,
       CASE WHEN i = 50 THEN timestamptz '2024-03-01 00:00:00+00' END
FROM generate_series(1, 50) AS i;

UPDATE run SET parent_run_id = md5('run-1')::uuid
WHERE run_id IN (SELECT md5('run-' || i)::uuid FROM generate_series(2, 6) AS i)
  AND workspace_id = (SELECT workspace_id FROM run WHERE run_id = md5('run-1')::uuid);

INSERT INTO run_param (run_id, workspace_id, key, value)
SELECT r.run_id, r.workspace_id, 'param_' || p, 'λ=' || (p * 0.001)::text || E'\t"quoted"'
FROM run r CROSS JOIN generate_series(1, 20) AS p;

INSERT INTO run_tag (run_id, workspace_id, key, value)
SELECT r.run_id, r.workspace_id, 'mlflow.tag' || t,
       CASE t WHEN 1 THEN E'multi\nline\r\nvalue' WHEN 2 THEN E'\\.' WHEN 3 THEN '' ELSE 'x' END
FROM run r CROSS JOIN generate_series(1, 5) AS t;

INSERT INTO metric_series (run_id, workspace_id, key, experiment_id, last_value, last_step,
                           last_timestamp, point_count, chunk_count)
SELECT r.run_id, r.workspace_id, k.key, r.experiment_id, 0.25, 999, 1700000000999, 1000, 4
FROM run r CROSS JOIN (VALUES ('loss'), ('val/accuracy')) AS k(key);

INSERT INTO metric_chunk (run_id, workspace_id, key, seq, min_step, max_step, steps, timestamps,
                          vals)
SELECT s.run_id, s.workspace_id, s.key, c.seq, c.seq * 250, c.seq * 250 + 249,
       ARRAY(SELECT g::bigint FROM generate_series(c.seq * 250, c.seq * 250 + 249) AS g),
       ARRAY(SELECT 1700000000000 + g FROM generate_series(c.seq * 250, c.seq * 250 + 249) AS g),
       ARRAY(SELECT CASE g WHEN 7 THEN 'NaN'::float8
                           WHEN 8 THEN 'Infinity'::float8
                           WHEN 9 THEN '-Infinity'::float8
                           WHEN 10 THEN -0.0::float8
                           ELSE sin(g) / (1 + length(s.key)) + 1e-300 * g END
             FROM generate_series(c.seq * 250, c.seq * 250 + 249) AS g)
FROM metric_series s CROSS JOIN generate_series(0, 3) AS c(seq);

INSERT INTO ingest_receipt (run_id, workspace_id, idempotency_key, point_count)
SELECT r.run_id, r.workspace_id, 'flush-' || f, 250 FROM run r CROSS JOIN generate_series(1, 2) AS f;

INSERT INTO registered_model (name, description, last_version, workspace_id)
SELECT 'model-' || m, CASE WHEN m % 2 = 0 THEN E'a model\nwith notes' END, 3,
       CASE WHEN m = 5 THEN 2 ELSE 1 END
FROM generate_series(1, 5) AS m;

INSERT INTO registered_model_tag (model_id, workspace_id, key, value)
SELECT model_id, workspace_id, 'owner', 'team ' || model_id FROM registered_model;

INSERT INTO model_version (model_id, workspace_id, version, source, run_id, status, stage,
                           user_id)
SELECT m.model_id, m.workspace_id, v, 's3://bucket/models/' || m.name || '/' || v,
       (SELECT r.run_id FROM run r
        WHERE v < 3 AND r.run_id = md5('run-' || (m.model_id * 3 + v))::uuid
          AND r.workspace_id = m.workspace_id),
       CASE v WHEN 1 THEN 'READY' WHEN 2 THEN 'READY' ELSE 'PENDING_REGISTRATION' END,
       CASE v WHEN 1 THEN 'Archived' WHEN 2 THEN 'Production' ELSE 'None' END,
       'bob'
FROM registered_model m CROSS JOIN generate_series(1, 3) AS v;

INSERT INTO model_version_tag (model_id, workspace_id, version, key, value)
SELECT model_id, workspace_id, version, 'validated', (version % 2 = 0)::text FROM model_version;

INSERT INTO model_alias (model_id, workspace_id, alias, version)
SELECT model_id, workspace_id, 'champion', 2 FROM registered_model
UNION ALL
SELECT model_id, workspace_id, 'challenger', 3 FROM registered_model;
