-- Queries of datasets, dataset versions and the datasets runs read and wrote
-- (modelyard/store/datasets.py, dataset_io.py).
--
-- Queries returning versions list the same columns (dataset_records.version_from_row):
--   name, digest, source_type, source, schema (json text), row_count, profile (json text),
--   created ms, dataset_version_id

-- name: insert_datasets
-- Names in order, so two batches sharing names take the unique-index locks in the same order. A
-- concurrent insert of the same name waits here for the other transaction, then skips the name.
INSERT INTO dataset (workspace_id, name)
SELECT %(ws)s, n.name
FROM (SELECT DISTINCT name FROM unnest(%(names)s::text[]) AS u (name)) AS n
ORDER BY n.name
ON CONFLICT ON CONSTRAINT dataset_name_uq DO NOTHING

-- name: insert_versions
-- The first of several items with one (name, digest) wins, in the batch and across batches:
-- versions are immutable, so a repeat with other metadata changes nothing. json casts refuse
-- text that is not JSON (a DataError, reported as invalid input).
INSERT INTO dataset_version (dataset_id, digest, source_type, source, schema, row_count, profile)
SELECT d.dataset_id, v.digest, v.source_type, v.source, v.schema::json, v.row_count,
       v.profile::json
FROM unnest(%(names)s::text[], %(digests)s::text[], %(source_types)s::text[],
            %(sources)s::text[], %(schemas)s::text[], %(row_counts)s::bigint[],
            %(profiles)s::text[])
     WITH ORDINALITY AS v (name, digest, source_type, source, schema, row_count, profile, ord)
JOIN dataset d ON d.workspace_id = %(ws)s AND d.name = v.name
ORDER BY d.dataset_id, v.digest, v.ord
ON CONFLICT ON CONSTRAINT dataset_version_digest_uq DO NOTHING

-- name: versions_by_keys
-- A later statement than the inserts, so it sees versions a concurrent logger committed.
SELECT d.name, dv.digest, dv.source_type, dv.source, dv.schema::text AS schema, dv.row_count,
       dv.profile::text AS profile,
       floor(extract(epoch FROM dv.created_at) * 1000)::bigint AS created_ms,
       dv.dataset_version_id
FROM unnest(%(names)s::text[], %(digests)s::text[]) WITH ORDINALITY AS k (name, digest, ord)
JOIN dataset d ON d.workspace_id = %(ws)s AND d.name = k.name
JOIN dataset_version dv ON dv.dataset_id = d.dataset_id AND dv.digest = k.digest
ORDER BY k.ord

-- name: get_dataset
SELECT d.name, floor(extract(epoch FROM d.created_at) * 1000)::bigint AS created_ms,
       count(dv.dataset_version_id) AS version_count,
       floor(extract(epoch FROM coalesce(max(dv.created_at), d.created_at)) * 1000)::bigint
           AS updated_ms,
       d.dataset_id
FROM dataset d
LEFT JOIN dataset_version dv ON dv.dataset_id = d.dataset_id
WHERE d.workspace_id = %(ws)s AND d.name = %(name)s
GROUP BY d.dataset_id, d.workspace_id

-- name: list_datasets
-- Keyset pagination on dataset_name_uq, as for registered models.
SELECT d.name, floor(extract(epoch FROM d.created_at) * 1000)::bigint AS created_ms,
       v.version_count,
       floor(extract(epoch FROM coalesce(v.updated, d.created_at)) * 1000)::bigint AS updated_ms,
       d.dataset_id
FROM dataset d
CROSS JOIN LATERAL (
    SELECT count(*) AS version_count, max(dv.created_at) AS updated
    FROM dataset_version dv WHERE dv.dataset_id = d.dataset_id
) v
WHERE d.workspace_id = %(ws)s
  AND d.name > %(after)s
  AND (%(name_like)s::text IS NULL OR d.name LIKE %(name_like)s::text)
ORDER BY d.name
LIMIT %(limit)s

-- name: list_versions
-- Newest first on dataset_version_dataset_idx; the cursor is the last
-- version's id (ids grow with creation, so id order is creation order).
SELECT d.name, dv.digest, dv.source_type, dv.source, dv.schema::text AS schema, dv.row_count,
       dv.profile::text AS profile,
       floor(extract(epoch FROM dv.created_at) * 1000)::bigint AS created_ms,
       dv.dataset_version_id
FROM dataset d
JOIN dataset_version dv ON dv.dataset_id = d.dataset_id
WHERE d.dataset_id = %(dataset_id)s AND dv.dataset_version_id < %(before)s
ORDER BY dv.dataset_version_id DESC
LIMIT %(limit)s

-- name: insert_inputs
-- A run reads a version once per context; reading it again in that context is a no-op (the
-- tags of the first log stay, as in MLflow).
INSERT INTO run_input (run_id, dataset_version_id, context, tags)
SELECT %(run_id)s, i.dataset_version_id, i.context, i.tags::jsonb
FROM unnest(%(version_ids)s::bigint[], %(contexts)s::text[], %(tags)s::text[])
     AS i (dataset_version_id, context, tags)
ORDER BY i.dataset_version_id, i.context
ON CONFLICT ON CONSTRAINT run_input_pk DO NOTHING

-- name: insert_outputs
INSERT INTO run_output (run_id, dataset_version_id)
SELECT %(run_id)s, o.dataset_version_id
FROM unnest(%(version_ids)s::bigint[]) AS o (dataset_version_id)
ORDER BY o.dataset_version_id
ON CONFLICT ON CONSTRAINT run_output_pk DO NOTHING

-- name: inputs_of_runs
-- The inputs of several runs at once (a page of runs hydrates in one statement), by run_input_pk.
SELECT i.run_id, i.context, i.tags, d.name, dv.digest, dv.source_type, dv.source,
       dv.schema::text AS schema, dv.row_count, dv.profile::text AS profile,
       floor(extract(epoch FROM dv.created_at) * 1000)::bigint AS created_ms,
       dv.dataset_version_id
FROM run_input i
JOIN dataset_version dv ON dv.dataset_version_id = i.dataset_version_id
JOIN dataset d ON d.dataset_id = dv.dataset_id
WHERE i.run_id = ANY(%(run_ids)s::uuid[])
ORDER BY i.run_id, i.created_at, d.name, dv.digest, i.context

-- name: outputs_of_runs
SELECT o.run_id, d.name, dv.digest, dv.source_type, dv.source,
       dv.schema::text AS schema, dv.row_count, dv.profile::text AS profile,
       floor(extract(epoch FROM dv.created_at) * 1000)::bigint AS created_ms,
       dv.dataset_version_id
FROM run_output o
JOIN dataset_version dv ON dv.dataset_version_id = o.dataset_version_id
JOIN dataset d ON d.dataset_id = dv.dataset_id
WHERE o.run_id = ANY(%(run_ids)s::uuid[])
ORDER BY o.run_id, o.created_at, d.name, dv.digest
