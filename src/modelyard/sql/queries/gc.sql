-- Queries of garbage collection (modelyard/gc.py): purge what was soft-deleted long ago, and
-- idempotency receipts older than any client would retry.

-- name: count_expired_runs
SELECT count(*) FILTER (WHERE NOT pinned) AS purgeable, count(*) FILTER (WHERE pinned) AS pinned
FROM (
    SELECT EXISTS (
               SELECT 1 FROM logged_model lm
               JOIN model_version v ON v.logged_model_id = lm.model_id
               WHERE lm.source_run_id = r.run_id) AS pinned
    FROM run r
    WHERE r.lifecycle_stage = 'deleted' AND r.deleted_at < %(cutoff)s
) expired

-- name: preview_runs
-- A dry run: the runs a real run would purge (the same rule as expired_runs and purge_runs).
SELECT r.run_id FROM run r
WHERE r.lifecycle_stage = 'deleted' AND r.deleted_at < %(cutoff)s
  AND NOT EXISTS (
      SELECT 1 FROM logged_model lm
      JOIN model_version v ON v.logged_model_id = lm.model_id
      WHERE lm.source_run_id = r.run_id)
ORDER BY r.deleted_at

-- name: expired_runs
-- A batch of runs to purge; SKIP LOCKED leaves rows a concurrent restore holds to that restore.
-- A run whose logged model is registered as a model version is kept: the version's files are
-- that run's artifacts (it is purged by a later gc, once no version needs it).
SELECT r.run_id FROM run r
WHERE r.lifecycle_stage = 'deleted' AND r.deleted_at < %(cutoff)s
  AND NOT EXISTS (
      SELECT 1 FROM logged_model lm
      JOIN model_version v ON v.logged_model_id = lm.model_id
      WHERE lm.source_run_id = r.run_id)
ORDER BY r.deleted_at
LIMIT %(batch)s
FOR UPDATE OF r SKIP LOCKED

-- name: lock_run_models
-- Waits for registrations in flight (their foreign key holds the logged model FOR KEY SHARE),
-- so purge_runs, a later statement, sees every version registered from these runs' models.
SELECT model_id FROM logged_model
WHERE source_run_id = ANY(%(run_ids)s::uuid[])
ORDER BY model_id
FOR UPDATE

-- name: orphan_children
-- A kept run whose parent is purged keeps its data and loses only the link to the parent.
UPDATE run SET parent_run_id = NULL
WHERE parent_run_id = ANY(%(run_ids)s::uuid[]) AND NOT run_id = ANY(%(run_ids)s::uuid[])

-- name: purge_runs
-- Params, tags, metrics and receipts go with their run (ON DELETE CASCADE); model versions keep
-- their source and lose the run link (ON DELETE SET NULL).
-- Run artifacts go too: their blobs are then unreferenced, and the blob gc that follows removes
-- their bytes. Runs pinned by a model version since expired_runs are kept.
DELETE FROM run r
WHERE r.run_id = ANY(%(run_ids)s::uuid[]) AND r.lifecycle_stage = 'deleted'
  AND NOT EXISTS (
      SELECT 1 FROM logged_model lm
      JOIN model_version v ON v.logged_model_id = lm.model_id
      WHERE lm.source_run_id = r.run_id)

-- name: expired_logged_models
-- Logged models deleted before the cutoff that no model version was registered from. FOR UPDATE
-- waits for a registration in flight; purge_logged_models re-checks in a new snapshot.
SELECT model_id FROM logged_model lm
WHERE lm.lifecycle_stage = 'deleted' AND lm.updated_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM model_version v WHERE v.logged_model_id = lm.model_id)
ORDER BY lm.model_id
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED

-- name: purge_logged_models
-- Tags, params and run inputs/outputs of the model go with it (ON DELETE CASCADE).
DELETE FROM logged_model lm
WHERE lm.model_id = ANY(%(model_ids)s::text[]) AND lm.lifecycle_stage = 'deleted'
  AND NOT EXISTS (SELECT 1 FROM model_version v WHERE v.logged_model_id = lm.model_id)
RETURNING lm.source_run_id, lm.artifact_path

-- name: purge_model_files
-- The files a purged logged model owned: its directory among its source run's artifacts.
DELETE FROM run_artifact a
USING unnest(%(run_ids)s::uuid[], %(paths)s::text[]) AS m (run_id, path)
WHERE a.run_id = m.run_id
  AND (a.path = m.path COLLATE "C"
       OR (a.path >= (m.path || '/') COLLATE "C" AND a.path < (m.path || '0') COLLATE "C"))

-- name: preview_logged_models
-- A dry run: the logged models a real run would purge, with the directory of their files.
SELECT lm.model_id, lm.source_run_id, lm.artifact_path FROM logged_model lm
WHERE lm.lifecycle_stage = 'deleted' AND lm.updated_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM model_version v WHERE v.logged_model_id = lm.model_id)
ORDER BY lm.model_id

-- name: count_expired_experiments
SELECT count(*) FROM experiment e
WHERE e.lifecycle_stage = 'deleted' AND e.deleted_at < %(cutoff)s

-- name: purge_experiments
-- Only experiments with no run left: an experiment's runs are purged first, in earlier batches.
DELETE FROM experiment e
WHERE e.lifecycle_stage = 'deleted' AND e.deleted_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM run r WHERE r.experiment_id = e.experiment_id)

-- name: count_expired_receipts
-- Both kinds of receipt: the store's per-run metric receipts and the API's idempotency receipts.
SELECT (SELECT count(*) FROM ingest_receipt WHERE created_at < %(cutoff)s)
     + (SELECT count(*) FROM idempotency_receipt WHERE created_at < %(cutoff)s)

-- name: purge_receipts
-- In batches through the created_at index, so no single statement holds many row locks.
DELETE FROM ingest_receipt
WHERE (run_id, idempotency_key) IN (
    SELECT run_id, idempotency_key FROM ingest_receipt
    WHERE created_at < %(cutoff)s
    ORDER BY created_at
    LIMIT %(batch)s
)

-- name: purge_idempotency_receipts
-- Past the TTL no client still retries with the key; a retry after it would act again.
DELETE FROM idempotency_receipt
WHERE (workspace_id, principal, operation, idempotency_key) IN (
    SELECT workspace_id, principal, operation, idempotency_key FROM idempotency_receipt
    WHERE created_at < %(cutoff)s
    ORDER BY created_at
    LIMIT %(batch)s
)
