-- Queries of the experiments repository (modelyard/store/experiments.py).
--
-- The select list of an experiment record is repeated in get, get_by_name and list on purpose:
-- each query reads top to bottom without indirection. Tags come back as two parallel arrays
-- (keys, values) gathered by a LATERAL subquery, so a page of experiments is one statement.

-- name: insert
INSERT INTO experiment (workspace_id, name, description, artifact_location)
VALUES (%(workspace_id)s, %(name)s, %(description)s, %(artifact_location)s)
RETURNING experiment_id

-- name: insert_if_absent
-- get_or_create: of two concurrent callers one inserts, the other gets no row and reads the winner's.
INSERT INTO experiment (workspace_id, name)
VALUES (%(workspace_id)s, %(name)s)
ON CONFLICT ON CONSTRAINT experiment_name_uq DO NOTHING
RETURNING experiment_id

-- name: insert_tags
INSERT INTO experiment_tag (experiment_id, key, value)
SELECT %(experiment_id)s, t.key, t.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS t (key, value)

-- name: get
SELECT * FROM experiment_record
WHERE experiment_id = %(experiment_id)s AND workspace_id = %(workspace_id)s

-- name: get_by_name
SELECT * FROM experiment_record WHERE workspace_id = %(workspace_id)s AND name = %(name)s

-- name: list
-- Keyset pagination on the primary key: rows after the cursor id, in id (creation) order.
SELECT * FROM experiment_record
WHERE workspace_id = %(workspace_id)s
  AND (%(lifecycle)s = 'all' OR lifecycle_stage = %(lifecycle)s)
  AND experiment_id > %(after_id)s
ORDER BY experiment_id
LIMIT %(limit)s

-- name: lock
-- Every change to an experiment starts here: the row lock orders it against concurrent changes
-- and against run creation (which takes FOR SHARE on the same row).
SELECT lifecycle_stage
FROM experiment
WHERE experiment_id = %(experiment_id)s AND workspace_id = %(workspace_id)s
FOR NO KEY UPDATE

-- name: rename
UPDATE experiment SET name = %(name)s, updated_at = now()
WHERE experiment_id = %(experiment_id)s

-- name: set_description
UPDATE experiment SET description = %(description)s, updated_at = now()
WHERE experiment_id = %(experiment_id)s

-- name: touch
UPDATE experiment SET updated_at = now()
WHERE experiment_id = %(experiment_id)s

-- name: set_tag
INSERT INTO experiment_tag (experiment_id, key, value)
VALUES (%(experiment_id)s, %(key)s, %(value)s)
ON CONFLICT ON CONSTRAINT experiment_tag_pk DO UPDATE SET value = EXCLUDED.value

-- name: delete_tag
DELETE FROM experiment_tag
WHERE experiment_id = %(experiment_id)s AND key = %(key)s
RETURNING key

-- name: delete
-- Soft delete, cascading to the active runs as MLflow does. The experiment and its runs get the
-- same deleted_at (now() is the transaction's start time), which is how restore later tells the
-- runs deleted with the experiment from runs deleted on their own before.
WITH deleted AS (
    UPDATE experiment
    SET lifecycle_stage = 'deleted', deleted_at = now(), updated_at = now()
    WHERE experiment_id = %(experiment_id)s
    RETURNING experiment_id, deleted_at
)
UPDATE run
SET lifecycle_stage = 'deleted', deleted_at = deleted.deleted_at
FROM deleted
WHERE run.experiment_id = deleted.experiment_id AND run.lifecycle_stage = 'active'

-- name: restore
-- Brings back the experiment and exactly the runs deleted with it (see delete).
WITH experiment_row AS (
    SELECT experiment_id, deleted_at FROM experiment WHERE experiment_id = %(experiment_id)s
), restored_runs AS (
    UPDATE run
    SET lifecycle_stage = 'active', deleted_at = NULL
    FROM experiment_row
    WHERE run.experiment_id = experiment_row.experiment_id
      AND run.lifecycle_stage = 'deleted'
      AND run.deleted_at = experiment_row.deleted_at
)
UPDATE experiment
SET lifecycle_stage = 'active', deleted_at = NULL, updated_at = now()
WHERE experiment_id = %(experiment_id)s

-- name: load_many
-- The experiments of one search page (experiment_search.py puts them back in the page's order).
SELECT * FROM experiment_record
WHERE experiment_id = ANY(%(experiment_ids)s) AND workspace_id = %(workspace_id)s
