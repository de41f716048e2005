-- Queries of the model registry (modelyard/store/registry.py, model_versions.py, aliases.py).
--
-- Models are addressed by (workspace_id, name), the registered_model_name_uq index; everything
-- below a model is keyed by its model_id, so a rename touches one row. Times leave as int
-- milliseconds since the epoch. Queries returning models list the same columns:
--   model_id, name, created ms, updated ms, description, tags (jsonb), aliases (jsonb alias->version)
-- and queries returning versions list the same columns (registry_records.version_from_row):
--   name, version, created ms, updated ms, stage, source, run_id, run_link, description, user_id,
--   status, status_message, tags (jsonb), aliases (text[] sorted), model_id, workspace_id,
--   logged_model_id

-- name: create_model
INSERT INTO registered_model (workspace_id, name, description)
VALUES (%(ws)s, %(name)s, %(description)s)
RETURNING model_id

-- name: insert_model_tags
INSERT INTO registered_model_tag (model_id, key, value)
SELECT %(model_id)s, t.key, t.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS t (key, value)

-- name: model_id
SELECT model_id FROM registered_model WHERE workspace_id = %(ws)s AND name = %(name)s

-- name: get_model
SELECT m.model_id, m.name,
       floor(extract(epoch FROM m.created_at) * 1000)::bigint,
       floor(extract(epoch FROM m.updated_at) * 1000)::bigint,
       m.description,
       coalesce((SELECT jsonb_object_agg(t.key, t.value)
                 FROM registered_model_tag t WHERE t.model_id = m.model_id), '{}'::jsonb),
       coalesce((SELECT jsonb_object_agg(a.alias, a.version)
                 FROM model_alias a WHERE a.model_id = m.model_id), '{}'::jsonb)
FROM registered_model m
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s

-- name: list_models
-- Keyset pagination on the name index: '' sorts before every name, so the first page needs no
-- special case and each page is one range scan of registered_model_name_uq.
SELECT m.model_id, m.name,
       floor(extract(epoch FROM m.created_at) * 1000)::bigint,
       floor(extract(epoch FROM m.updated_at) * 1000)::bigint,
       m.description,
       coalesce((SELECT jsonb_object_agg(t.key, t.value)
                 FROM registered_model_tag t WHERE t.model_id = m.model_id), '{}'::jsonb),
       coalesce((SELECT jsonb_object_agg(a.alias, a.version)
                 FROM model_alias a WHERE a.model_id = m.model_id), '{}'::jsonb)
FROM registered_model m
WHERE m.workspace_id = %(ws)s
  AND m.name > %(after)s
  AND (%(name_like)s::text IS NULL OR m.name LIKE %(name_like)s::text)
ORDER BY m.name
LIMIT %(limit)s

-- name: latest_versions
-- One backward probe of model_version_stage_idx per (model, stage).
SELECT r.*
FROM unnest(%(model_ids)s::bigint[]) AS mid (model_id)
CROSS JOIN unnest(%(stages)s::text[]) AS s (stage)
CROSS JOIN LATERAL (
    SELECT * FROM model_version_record mv
    WHERE mv.model_id = mid.model_id AND mv.stage = s.stage
    ORDER BY mv.version DESC
    LIMIT 1
) AS r
ORDER BY r.model_id, r.version

-- name: rename_model
UPDATE registered_model SET name = %(new_name)s, updated_at = now()
WHERE workspace_id = %(ws)s AND name = %(name)s
RETURNING model_id

-- name: update_model
UPDATE registered_model SET description = %(description)s, updated_at = now()
WHERE workspace_id = %(ws)s AND name = %(name)s
RETURNING model_id

-- name: touch_model
-- Takes the model's row lock: stage transitions of one model run one after another.
UPDATE registered_model SET updated_at = now()
WHERE workspace_id = %(ws)s AND name = %(name)s
RETURNING model_id

-- name: delete_model
-- Versions, tags and aliases go with it (ON DELETE CASCADE).
DELETE FROM registered_model WHERE workspace_id = %(ws)s AND name = %(name)s
RETURNING model_id

-- name: set_model_tag
INSERT INTO registered_model_tag (model_id, key, value)
SELECT m.model_id, %(key)s, %(value)s
FROM registered_model m WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
ON CONFLICT (model_id, key, workspace_id) DO UPDATE SET value = EXCLUDED.value
RETURNING model_id

-- name: delete_model_tag
DELETE FROM registered_model_tag t
USING registered_model m
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
  AND t.model_id = m.model_id AND t.key = %(key)s
RETURNING t.model_id

-- name: next_version
-- The row lock taken here is held to commit: concurrent registrations of one model queue on it
-- and each sees the previous one's committed counter, so numbers have no gap and no duplicate.
-- A failed insert rolls the increment back with it.
UPDATE registered_model SET last_version = last_version + 1, updated_at = now()
WHERE workspace_id = %(ws)s AND name = %(name)s
RETURNING model_id, last_version

-- name: insert_version
INSERT INTO model_version (model_id, version, source, run_id, run_link, description, user_id,
                           logged_model_id)
VALUES (%(model_id)s, %(version)s, %(source)s, %(run_id)s, %(run_link)s, %(description)s,
        %(user_id)s, %(logged_model_id)s)

-- name: insert_version_tags
INSERT INTO model_version_tag (model_id, version, key, value)
SELECT %(model_id)s, %(version)s, t.key, t.value
FROM unnest(%(keys)s::text[], %(values)s::text[]) AS t (key, value)

-- name: get_version
SELECT r.* FROM model_version_record r
WHERE r.workspace_id = %(ws)s AND r.name = %(name)s AND r.version = %(version)s

-- name: find_version
-- Explains a miss: no row = no such model; a NULL version = the model exists, the version not.
SELECT m.model_id, v.version
FROM registered_model m
LEFT JOIN model_version v ON v.model_id = m.model_id AND v.version = %(version)s
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s

-- name: list_versions
-- Newest first; the cursor is the last version returned, the scan walks model_version_pk down.
SELECT r.* FROM model_version_record r
WHERE r.model_id = %(model_id)s
  AND r.version < %(before)s
  AND (%(stage)s::text IS NULL OR r.stage = %(stage)s::text)
ORDER BY r.version DESC
LIMIT %(limit)s

-- name: update_version
UPDATE model_version v SET description = %(description)s, updated_at = now()
FROM registered_model m
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
  AND v.model_id = m.model_id AND v.version = %(version)s
RETURNING v.version

-- name: delete_version
-- Its tags and aliases go with it; last_version is untouched, so the number is never reused.
DELETE FROM model_version v
USING registered_model m
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
  AND v.model_id = m.model_id AND v.version = %(version)s
RETURNING v.version

-- name: set_version_tag
INSERT INTO model_version_tag (model_id, version, key, value)
SELECT v.model_id, v.version, %(key)s, %(value)s
FROM registered_model m
JOIN model_version v ON v.model_id = m.model_id
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s AND v.version = %(version)s
ON CONFLICT (model_id, version, key, workspace_id) DO UPDATE SET value = EXCLUDED.value
RETURNING version

-- name: delete_version_tag
DELETE FROM model_version_tag t
USING registered_model m
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
  AND t.model_id = m.model_id AND t.version = %(version)s AND t.key = %(key)s
RETURNING t.version

-- name: set_stage
UPDATE model_version SET stage = %(stage)s, updated_at = now()
WHERE model_id = %(model_id)s AND version = %(version)s
RETURNING version

-- name: archive_stage
UPDATE model_version SET stage = 'Archived', updated_at = now()
WHERE model_id = %(model_id)s AND stage = %(stage)s AND version <> %(version)s

-- name: set_alias
-- One statement creates or moves the alias: a reader sees the old target or the new one. The
-- foreign key to model_version refuses a version that does not exist (or is being deleted).
INSERT INTO model_alias (model_id, alias, version)
SELECT m.model_id, %(alias)s, %(version)s
FROM registered_model m WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
ON CONFLICT (model_id, alias, workspace_id) DO UPDATE SET version = EXCLUDED.version, updated_at = now()
RETURNING model_id

-- name: delete_alias
DELETE FROM model_alias a
USING registered_model m
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s
  AND a.model_id = m.model_id AND a.alias = %(alias)s
RETURNING a.version

-- name: version_by_alias
-- The hot path of model serving: three primary-key probes (model by name, alias, version).
SELECT r.* FROM registered_model m
JOIN model_alias a ON a.model_id = m.model_id AND a.alias = %(alias)s
JOIN model_version_record r ON r.model_id = a.model_id AND r.version = a.version
WHERE m.workspace_id = %(ws)s AND m.name = %(name)s

-- name: versions_by_keys
-- Hydrates a page of search results, keeping the order of the (name, version) pairs given.
SELECT r.*
FROM unnest(%(names)s::text[], %(versions)s::integer[]) WITH ORDINALITY AS k (name, version, ord)
JOIN model_version_record r
  ON r.workspace_id = %(ws)s AND r.name = k.name AND r.version = k.version
ORDER BY k.ord

-- name: models_by_ids
-- Hydrates a page of registered-model search results, keeping the order of the ids given.
SELECT m.model_id, m.name,
       floor(extract(epoch FROM m.created_at) * 1000)::bigint,
       floor(extract(epoch FROM m.updated_at) * 1000)::bigint,
       m.description,
       coalesce((SELECT jsonb_object_agg(t.key, t.value)
                 FROM registered_model_tag t WHERE t.model_id = m.model_id), '{}'::jsonb),
       coalesce((SELECT jsonb_object_agg(a.alias, a.version)
                 FROM model_alias a WHERE a.model_id = m.model_id), '{}'::jsonb)
FROM unnest(%(model_ids)s::bigint[]) WITH ORDINALITY AS k (model_id, ord)
JOIN registered_model m ON m.model_id = k.model_id AND m.workspace_id = %(ws)s
ORDER BY k.ord
