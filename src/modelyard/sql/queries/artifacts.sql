-- Queries of the artifact store (modelyard/artifacts/). Paths are compared in C collation, so a
-- directory is the range [low, high) computed by modelyard.artifacts.paths.child_range.

-- name: lock_run
-- FOR SHARE: uploads to one run do not block each other, but a delete or purge of the run waits.
SELECT lifecycle_stage
FROM run
WHERE run_id = %(run_id)s
FOR SHARE

-- name: run_exists
SELECT lifecycle_stage FROM run WHERE run_id = %(run_id)s

-- name: lock_run_paths
-- Serialises the publishing of paths in one run, so "a" as a file and "a/b" cannot both appear.
SELECT pg_advisory_xact_lock(%(namespace)s, hashtext(%(run_id)s::text))

-- name: lock_content
-- Taken by an upload that publishes or dedups a content and by gc that removes one (see gc.py).
SELECT pg_advisory_xact_lock(%(namespace)s, %(key)s)

-- name: lock_shared
-- An S3 upload publishing its object (OBJECT_PUBLISH_LOCK, see modelyard/artifacts/gc.py).
SELECT pg_advisory_xact_lock_shared(%(namespace)s, %(key)s)

-- name: find_blob
-- FOR KEY SHARE, held to commit: gc's mark (FOR UPDATE SKIP LOCKED) passes over a blob an upload
-- is about to reuse, and an upload waits for a gc that holds the blob, then sees it condemned
-- or gone. Does not block other uploads of the same content (see modelyard/artifacts/gc.py).
-- Dedup is per workspace (the scope's): another workspace's blob of the same content is not
-- reused, and the foreign keys would refuse a reference to it.
SELECT blob_id, size, locator, condemned_at IS NOT NULL AS condemned
FROM artifact_blob
WHERE store_url = %(store_url)s AND sha256 = %(sha256)s
  AND workspace_id = nullif(current_setting('modelyard.workspace', true), '')::integer
FOR KEY SHARE

-- name: locator_shared
-- Whether another blob row (of another workspace: dedup is per workspace, bytes of a file://
-- store per content) names the same bytes; those must then stay when this row goes. Asked
-- through the one function that may look across workspaces (schema.sql says why).
SELECT artifact_locator_shared_v1(%(store_url)s, %(locator)s, %(blob_id)s)

-- name: insert_blob
INSERT INTO artifact_blob (store_url, sha256, size, locator)
VALUES (%(store_url)s, %(sha256)s, %(size)s, %(locator)s)
RETURNING blob_id

-- name: insert_staged_blob
INSERT INTO artifact_blob (store_url, sha256, size, locator)
VALUES (%(store_url)s, NULL, 0, NULL)
RETURNING blob_id

-- name: seal_blob
UPDATE artifact_blob SET sha256 = %(sha256)s, size = %(size)s WHERE blob_id = %(blob_id)s

-- name: insert_chunk
-- One chunk per statement: COPY FROM is refused on a table with row-level security.
INSERT INTO artifact_chunk (blob_id, seq, data) VALUES (%(blob_id)s, %(seq)s, %(data)b)

-- name: read_chunks
SELECT data FROM artifact_chunk WHERE blob_id = %(blob_id)s ORDER BY seq

-- name: path_conflict
-- A file where the new path needs a directory (an ancestor), or files below the new path.
SELECT path
FROM run_artifact
WHERE run_id = %(run_id)s
  AND (path = ANY(%(ancestors)s::text[])
       OR (path >= %(low)s AND path < %(high)s))
LIMIT 1

-- name: upsert
INSERT INTO run_artifact (run_id, path, blob_id)
VALUES (%(run_id)s, %(path)s, %(blob_id)s)
ON CONFLICT (run_id, path, workspace_id) DO UPDATE SET blob_id = EXCLUDED.blob_id, created_at = now()

-- name: get
SELECT a.path, b.size, b.sha256, b.blob_id, b.store_url, b.locator
FROM run_artifact a
JOIN artifact_blob b ON b.blob_id = a.blob_id
WHERE a.run_id = %(run_id)s AND a.path = %(path)s

-- name: list_children
-- The direct children of a directory: files with their size and digest, subdirectories once.
SELECT split_part(rest, '/', 1) AS name,
       bool_or(strpos(rest, '/') > 0) AS is_dir,
       CASE WHEN bool_or(strpos(rest, '/') > 0) THEN NULL ELSE max(size) END AS size,
       CASE WHEN bool_or(strpos(rest, '/') > 0) THEN NULL ELSE (array_agg(sha256))[1] END AS sha256
FROM (
    SELECT substr(a.path, %(skip)s + 1) AS rest, b.size, b.sha256
    FROM run_artifact a
    JOIN artifact_blob b ON b.blob_id = a.blob_id
    WHERE a.run_id = %(run_id)s
      AND a.path >= %(low)s AND (%(high)s::text IS NULL OR a.path < %(high)s::text)
) below
GROUP BY 1
ORDER BY 1

-- name: walk
-- Every file below a directory, in path order (a directory download).
SELECT a.path, b.size, b.sha256, b.blob_id, b.store_url, b.locator
FROM run_artifact a
JOIN artifact_blob b ON b.blob_id = a.blob_id
WHERE a.run_id = %(run_id)s
  AND a.path >= %(low)s AND (%(high)s::text IS NULL OR a.path < %(high)s::text)
ORDER BY a.path

-- name: delete
DELETE FROM run_artifact
WHERE run_id = %(run_id)s
  AND (path = %(path)s OR (path >= %(low)s AND path < %(high)s))
RETURNING path

-- name: delete_blob
DELETE FROM artifact_blob WHERE blob_id = %(blob_id)s
