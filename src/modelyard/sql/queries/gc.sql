-- Queries of garbage collection (modelyard/gc.py): purge what was soft-deleted long ago, and
-- idempotency receipts older than any client would retry.

-- name: count_expired_runs
SELECT count(*) FROM run WHERE lifecycle_stage = 'deleted' AND deleted_at < %(cutoff)s

-- name: expired_runs
-- A batch of runs to purge; SKIP LOCKED leaves rows a concurrent restore holds to that restore.
SELECT run_id FROM run
WHERE lifecycle_stage = 'deleted' AND deleted_at < %(cutoff)s
ORDER BY deleted_at
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED

-- name: orphan_children
-- A kept run whose parent is purged keeps its data and loses only the link to the parent.
UPDATE run SET parent_run_id = NULL
WHERE parent_run_id = ANY(%(run_ids)s::uuid[]) AND NOT run_id = ANY(%(run_ids)s::uuid[])

-- name: purge_runs
-- Params, tags, metrics and receipts go with their run (ON DELETE CASCADE); model versions keep
-- their source and lose the run link (ON DELETE SET NULL).
DELETE FROM run WHERE run_id = ANY(%(run_ids)s::uuid[]) AND lifecycle_stage = 'deleted'

-- name: count_expired_experiments
SELECT count(*) FROM experiment e
WHERE e.lifecycle_stage = 'deleted' AND e.deleted_at < %(cutoff)s

-- name: purge_experiments
-- Only experiments with no run left: an experiment's runs are purged first, in earlier batches.
DELETE FROM experiment e
WHERE e.lifecycle_stage = 'deleted' AND e.deleted_at < %(cutoff)s
  AND NOT EXISTS (SELECT 1 FROM run r WHERE r.experiment_id = e.experiment_id)

-- name: count_expired_receipts
SELECT count(*) FROM ingest_receipt WHERE created_at < %(cutoff)s

-- name: purge_receipts
-- In batches through the created_at index, so no single statement holds many row locks.
DELETE FROM ingest_receipt
WHERE (run_id, idempotency_key) IN (
    SELECT run_id, idempotency_key FROM ingest_receipt
    WHERE created_at < %(cutoff)s
    ORDER BY created_at
    LIMIT %(batch)s
)
