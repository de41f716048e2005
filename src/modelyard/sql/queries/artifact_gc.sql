-- Queries of artifact garbage collection (modelyard/artifacts/gc.py): mark unreferenced blobs
-- as condemned, then sweep them (bytes, then row). The locking is explained in that module.

-- name: lock_unreferenced
-- The mark's first step: lock a batch of blobs that look unreferenced. SKIP LOCKED passes over a
-- blob an upload holds FOR KEY SHARE (it is about to reuse it, or to reference it).
SELECT b.blob_id
FROM artifact_blob b
WHERE b.store_url = %(store_url)s
  AND b.condemned_at IS NULL
  AND b.blob_id > %(after)s
  AND NOT EXISTS (SELECT 1 FROM run_artifact a WHERE a.blob_id = b.blob_id)
ORDER BY b.blob_id
LIMIT %(batch)s
FOR UPDATE OF b SKIP LOCKED

-- name: condemn
-- The mark's second step, a new statement and so a new snapshot taken while the rows are locked:
-- any transaction that referenced one of them held its key-share lock until it ended, so every
-- reference that exists now is committed and visible here.
UPDATE artifact_blob b SET condemned_at = now()
WHERE b.blob_id = ANY(%(blob_ids)s::bigint[])
  AND NOT EXISTS (SELECT 1 FROM run_artifact a WHERE a.blob_id = b.blob_id)
RETURNING b.blob_id

-- name: lock_condemned
-- A batch for the sweep, locked to the end of its transaction; an upload of the same content
-- waits on these locks (its find_blob), then finds the blob gone.
SELECT b.blob_id, b.sha256, b.size, b.locator,
       EXISTS (SELECT 1 FROM run_artifact a WHERE a.blob_id = b.blob_id) AS referenced
FROM artifact_blob b
WHERE b.store_url = %(store_url)s
  AND b.condemned_at IS NOT NULL
  AND b.blob_id > %(after)s
ORDER BY b.blob_id
LIMIT %(batch)s
FOR UPDATE OF b SKIP LOCKED

-- name: try_lock_content
-- The sweep's content lock, not waited for: an upload takes it before the row locks the sweep
-- holds, so waiting could deadlock; a blob whose lock is busy is left for the next gc.
SELECT pg_try_advisory_xact_lock(%(namespace)s, %(key)s)

-- name: pardon
-- Never expected (an upload never references a condemned blob), but a referenced blob must live.
UPDATE artifact_blob SET condemned_at = NULL WHERE blob_id = ANY(%(blob_ids)s::bigint[])

-- name: delete_blobs
-- Chunks of postgresql-store blobs go with their rows (ON DELETE CASCADE).
DELETE FROM artifact_blob WHERE blob_id = ANY(%(blob_ids)s::bigint[])

-- name: preview_blobs
-- A dry run: the blobs that a real run would remove, given the runs and logged models it would
-- purge first; nothing is locked or changed.
SELECT b.sha256, b.size
FROM artifact_blob b
WHERE b.store_url = %(store_url)s
  AND NOT EXISTS (
      SELECT 1 FROM run_artifact a
      WHERE a.blob_id = b.blob_id
        AND NOT a.run_id = ANY(%(purged_runs)s::uuid[])
        AND NOT EXISTS (
            SELECT 1
            FROM unnest(%(model_runs)s::uuid[], %(model_paths)s::text[]) AS m (run_id, path)
            WHERE a.run_id = m.run_id
              AND (a.path = m.path COLLATE "C"
                   OR (a.path >= (m.path || '/') COLLATE "C"
                       AND a.path < (m.path || '0') COLLATE "C"))))
ORDER BY b.blob_id

-- name: count_condemned
SELECT count(*) FROM artifact_blob WHERE store_url = %(store_url)s AND condemned_at IS NOT NULL

-- name: known_locators
-- Which of these object keys a row of the store names (an object without one is an orphan).
SELECT locator FROM artifact_blob
WHERE store_url = %(store_url)s AND locator = ANY(%(locators)s::text[])

-- name: known_blobs
-- Which of these contents have a row in the store (a blob file without one is an orphan).
SELECT sha256 FROM artifact_blob
WHERE store_url = %(store_url)s AND sha256 = ANY(%(digests)s::bytea[])
