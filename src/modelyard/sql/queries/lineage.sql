-- Queries of lineage (modelyard/store/lineage.py): which runs, datasets and model versions lead
-- to a model version (upstream), and which follow from a dataset version (downstream).
--
-- The walks are recursive CTEs over runs only: every edge of the graph touches a run, so the set
-- of runs reached decides the whole graph, and the datasets, logged models and versions around
-- them are read afterwards in a few set-based statements. A step from a run goes
--   upstream:   to its parent run, to the runs that wrote a dataset version it read, and to the
--               runs that produced a logged model it took as input;
--   downstream: to its child runs, to the runs that read a dataset version it wrote, and to the
--               runs that took a logged model it produced.
-- Each step is an index probe: run_pk / run_parent_idx for parents and children, run_input_pk
-- or run_output_pk (keys start with run_id) for a run's inputs or outputs, and
-- run_output_dataset_idx / run_input_dataset_idx for a version's writers or readers, and
-- run_model_input_pk / run_model_input_model_idx with the logged_model_producer view (see
-- schema.sql) for models.
--
-- Cycle safety: recorded lineage can loop (a run that reads what a later run wrote, or a run
-- that reads and writes one version). The CTE uses UNION, so a (run, depth) pair is produced
-- once, and stops at %(max_depth)s: a loop is walked at most max_depth times round, never for
-- ever. The caller asks for one level more than it shows, to know whether the graph was cut.

-- name: version_by_number
SELECT r.name, r.version, r.run_id, r.aliases, r.logged_model_id
FROM model_version_record r
WHERE r.workspace_id = %(ws)s AND r.name = %(name)s AND r.version = %(version)s

-- name: version_by_alias
SELECT r.name, r.version, r.run_id, r.aliases, r.logged_model_id
FROM registered_model m
JOIN model_alias a ON a.model_id = m.model_id AND a.alias = %(alias)s
JOIN model_version_record r ON r.model_id = a.model_id AND r.version = a.version
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s

-- name: latest_version
SELECT r.name, r.version, r.run_id, r.aliases, r.logged_model_id
FROM registered_model m
JOIN model_version_record r ON r.model_id = m.model_id
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
ORDER BY r.version DESC
LIMIT 1

-- name: dataset_version_id
SELECT dv.dataset_version_id
FROM dataset d
JOIN dataset_version dv ON dv.dataset_id = d.dataset_id AND dv.digest = %(digest)s
WHERE d.workspace_id = %(ws)s AND d.name = %(name)s

-- name: readers
-- The runs that read a dataset version: the start of a downstream walk.
SELECT DISTINCT i.run_id FROM run_input i WHERE i.dataset_version_id = %(dataset_version_id)s

-- name: upstream_runs
WITH RECURSIVE walk (run_id, depth) AS (
    SELECT s.run_id, 1
    FROM unnest(%(start)s::uuid[]) AS s (run_id)
  UNION
    SELECT step.run_id, w.depth + 1
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT r.parent_run_id AS run_id
        FROM run r
        WHERE r.run_id = w.run_id AND r.parent_run_id IS NOT NULL
      UNION ALL
        SELECT o.run_id
        FROM run_input i
        JOIN run_output o ON o.dataset_version_id = i.dataset_version_id
        WHERE i.run_id = w.run_id
      UNION ALL
        SELECT p.run_id
        FROM run_model_input mi
        JOIN logged_model_producer p ON p.model_id = mi.model_id
        WHERE mi.run_id = w.run_id
    ) AS step
    WHERE w.depth < %(max_depth)s
)
SELECT w.run_id, min(w.depth) AS depth
FROM walk w
GROUP BY w.run_id

-- name: downstream_runs
WITH RECURSIVE walk (run_id, depth) AS (
    SELECT s.run_id, 1
    FROM unnest(%(start)s::uuid[]) AS s (run_id)
  UNION
    SELECT step.run_id, w.depth + 1
    FROM walk w
    CROSS JOIN LATERAL (
        SELECT c.run_id
        FROM run c
        WHERE c.parent_run_id = w.run_id
      UNION ALL
        SELECT i.run_id
        FROM run_output o
        JOIN run_input i ON i.dataset_version_id = o.dataset_version_id
        WHERE o.run_id = w.run_id
      UNION ALL
        SELECT mi.run_id
        FROM logged_model_producer p
        JOIN run_model_input mi ON mi.model_id = p.model_id
        WHERE p.run_id = w.run_id
    ) AS step
    WHERE w.depth < %(max_depth)s
)
SELECT w.run_id, min(w.depth) AS depth
FROM walk w
GROUP BY w.run_id

-- name: runs
-- The runs of a graph, with their parent (an edge when the parent is in the graph too).
SELECT r.run_id, r.name, r.status, r.experiment_id, r.parent_run_id
FROM run r
WHERE r.run_id = ANY(%(run_ids)s::uuid[])

-- name: upstream_dataset_edges
-- Everything the runs read, and those of their writes that another of the runs read.
SELECT 'input' AS kind, i.run_id, i.dataset_version_id, i.context
FROM run_input i
WHERE i.run_id = ANY(%(run_ids)s::uuid[])
UNION ALL
SELECT 'output', o.run_id, o.dataset_version_id, NULL
FROM run_output o
WHERE o.run_id = ANY(%(run_ids)s::uuid[])
  AND EXISTS (SELECT 1 FROM run_input i
              WHERE i.dataset_version_id = o.dataset_version_id
                AND i.run_id = ANY(%(run_ids)s::uuid[]))

-- name: downstream_dataset_edges
-- Everything the runs wrote, and those of their reads that came from the start version or
-- from another of the runs.
SELECT 'output' AS kind, o.run_id, o.dataset_version_id, NULL AS context
FROM run_output o
WHERE o.run_id = ANY(%(run_ids)s::uuid[])
UNION ALL
SELECT 'input', i.run_id, i.dataset_version_id, i.context
FROM run_input i
WHERE i.run_id = ANY(%(run_ids)s::uuid[])
  AND (i.dataset_version_id = %(root)s
       OR EXISTS (SELECT 1 FROM run_output o
                  WHERE o.dataset_version_id = i.dataset_version_id
                    AND o.run_id = ANY(%(run_ids)s::uuid[])))

-- name: dataset_versions
SELECT dv.dataset_version_id, d.name, dv.digest, dv.source, dv.row_count
FROM dataset_version dv
JOIN dataset d ON d.dataset_id = dv.dataset_id
WHERE dv.dataset_version_id = ANY(%(ids)s::bigint[])

-- name: versions_of_runs
-- The model versions registered from the runs (model_version_run_idx) or from their logged
-- models (model_version_logged_model_idx).
SELECT r.name, r.version, r.run_id, r.aliases, r.logged_model_id
FROM model_version_record r
WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.workspace_id = %(ws)s
UNION
SELECT r.name, r.version, r.run_id, r.aliases, r.logged_model_id
FROM model_version_record r
WHERE r.logged_model_id = ANY(%(model_ids)s::text[]) AND r.workspace_id = %(ws)s

-- name: producers
-- The runs that produced a logged model: the start of the walk upstream of a version
-- registered from it.
SELECT p.run_id FROM logged_model_producer p WHERE p.model_id = %(model_id)s

-- name: upstream_model_edges
-- The logged models the runs took, and the root version's model; who of the runs produced them.
SELECT 'input' AS kind, mi.run_id, mi.model_id
FROM run_model_input mi
WHERE mi.run_id = ANY(%(run_ids)s::uuid[])
UNION ALL
SELECT 'logged', p.run_id, p.model_id
FROM logged_model_producer p
WHERE p.run_id = ANY(%(run_ids)s::uuid[])
  AND (p.model_id = %(root_model)s
       OR EXISTS (SELECT 1 FROM run_model_input mi
                  WHERE mi.model_id = p.model_id AND mi.run_id = ANY(%(run_ids)s::uuid[])))

-- name: downstream_model_edges
-- The logged models the runs produced, and which of the runs took them.
SELECT 'logged' AS kind, p.run_id, p.model_id
FROM logged_model_producer p
WHERE p.run_id = ANY(%(run_ids)s::uuid[])
UNION ALL
SELECT 'input', mi.run_id, mi.model_id
FROM run_model_input mi
WHERE mi.run_id = ANY(%(run_ids)s::uuid[])
  AND EXISTS (SELECT 1 FROM logged_model_producer p
              WHERE p.model_id = mi.model_id AND p.run_id = ANY(%(run_ids)s::uuid[]))

-- name: logged_models
SELECT lm.model_id, lm.name, lm.status, lm.flavor, lm.source_run_id
FROM logged_model lm
WHERE lm.model_id = ANY(%(ids)s::text[])
