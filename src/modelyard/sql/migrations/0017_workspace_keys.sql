-- Every tenant table carries workspace_id, filled from the request scope (the modelyard.workspace
-- setting, scope.sql) by its default, so an insert made without a scope fails (NOT NULL). Every
-- primary and unique key includes workspace_id, and every reference between tenant tables is a
-- composite foreign key (workspace_id, parent key): a child can never point into another
-- workspace. This is what row-level security (the next migration) needs: a policy per table on
-- its own column, no joins. docs/design.md ("Workspaces in every key") says why and what it costs.
--
-- workspace_id comes last in keys that start with an id (run_id, model_id, blob_id...): every
-- existing lookup keeps its index range, and the workspace is one more equality checked in the
-- index. Keys that start with workspace_id (names) keep it first.

-- 1. The column on every child table, nullable until it is backfilled.
ALTER TABLE experiment_tag ADD COLUMN workspace_id integer;
ALTER TABLE run_param ADD COLUMN workspace_id integer;
ALTER TABLE run_tag ADD COLUMN workspace_id integer;
ALTER TABLE metric_series ADD COLUMN workspace_id integer;
ALTER TABLE metric_chunk ADD COLUMN workspace_id integer;
ALTER TABLE metric_chunk_rollup ADD COLUMN workspace_id integer;
ALTER TABLE ingest_receipt ADD COLUMN workspace_id integer;
ALTER TABLE registered_model_tag ADD COLUMN workspace_id integer;
ALTER TABLE model_version ADD COLUMN workspace_id integer;
ALTER TABLE model_version_tag ADD COLUMN workspace_id integer;
ALTER TABLE model_alias ADD COLUMN workspace_id integer;
ALTER TABLE webhook_delivery ADD COLUMN workspace_id integer;
ALTER TABLE webhook_attempt ADD COLUMN workspace_id integer;
ALTER TABLE artifact_blob ADD COLUMN workspace_id integer;
ALTER TABLE artifact_chunk ADD COLUMN workspace_id integer;
ALTER TABLE run_artifact ADD COLUMN workspace_id integer;
ALTER TABLE dataset_version ADD COLUMN workspace_id integer;
ALTER TABLE run_input ADD COLUMN workspace_id integer;
ALTER TABLE run_output ADD COLUMN workspace_id integer;
ALTER TABLE logged_model_tag ADD COLUMN workspace_id integer;
ALTER TABLE logged_model_param ADD COLUMN workspace_id integer;
ALTER TABLE run_model_output ADD COLUMN workspace_id integer;
ALTER TABLE run_model_input ADD COLUMN workspace_id integer;
ALTER TABLE logged_model_metric ADD COLUMN workspace_id integer;

-- 2. Backfill from the parents. A run and a logged model belong to their experiment's workspace
-- (the store always made them so; this makes it certain before the keys say it).
UPDATE run r SET workspace_id = e.workspace_id
FROM experiment e WHERE e.experiment_id = r.experiment_id AND r.workspace_id <> e.workspace_id;
UPDATE logged_model m SET workspace_id = e.workspace_id
FROM experiment e WHERE e.experiment_id = m.experiment_id AND m.workspace_id <> e.workspace_id;

UPDATE experiment_tag t SET workspace_id = e.workspace_id
FROM experiment e WHERE e.experiment_id = t.experiment_id;
UPDATE run_param t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE run_tag t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE metric_series t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE metric_chunk t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE metric_chunk_rollup t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE ingest_receipt t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE run_artifact t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE run_input t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE run_output t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE run_model_output t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE run_model_input t SET workspace_id = r.workspace_id FROM run r WHERE r.run_id = t.run_id;
UPDATE logged_model_metric t SET workspace_id = r.workspace_id
FROM run r WHERE r.run_id = t.run_id;
UPDATE registered_model_tag t SET workspace_id = m.workspace_id
FROM registered_model m WHERE m.model_id = t.model_id;
UPDATE model_version t SET workspace_id = m.workspace_id
FROM registered_model m WHERE m.model_id = t.model_id;
UPDATE model_version_tag t SET workspace_id = m.workspace_id
FROM registered_model m WHERE m.model_id = t.model_id;
UPDATE model_alias t SET workspace_id = m.workspace_id
FROM registered_model m WHERE m.model_id = t.model_id;
UPDATE webhook_delivery t SET workspace_id = w.workspace_id
FROM webhook w WHERE w.webhook_id = t.webhook_id;
UPDATE webhook_attempt t SET workspace_id = d.workspace_id
FROM webhook_delivery d WHERE d.delivery_id = t.delivery_id;
UPDATE dataset_version t SET workspace_id = d.workspace_id
FROM dataset d WHERE d.dataset_id = t.dataset_id;
UPDATE logged_model_tag t SET workspace_id = m.workspace_id
FROM logged_model m WHERE m.model_id = t.model_id;
UPDATE logged_model_param t SET workspace_id = m.workspace_id
FROM logged_model m WHERE m.model_id = t.model_id;

-- Links across workspaces are what the new keys forbid. The store never made one, but a
-- database edited by hand might hold some: optional links are cut, link rows dropped.
UPDATE run c SET parent_run_id = NULL
FROM run p WHERE p.run_id = c.parent_run_id AND p.workspace_id <> c.workspace_id;
UPDATE model_version v SET run_id = NULL
FROM run r WHERE r.run_id = v.run_id AND r.workspace_id <> v.workspace_id;
UPDATE model_version v SET logged_model_id = NULL
FROM logged_model m WHERE m.model_id = v.logged_model_id AND m.workspace_id <> v.workspace_id;
UPDATE logged_model m SET source_run_id = NULL
FROM run r WHERE r.run_id = m.source_run_id AND r.workspace_id <> m.workspace_id;
DELETE FROM run_input t USING dataset_version d
WHERE d.dataset_version_id = t.dataset_version_id AND d.workspace_id <> t.workspace_id;
DELETE FROM run_output t USING dataset_version d
WHERE d.dataset_version_id = t.dataset_version_id AND d.workspace_id <> t.workspace_id;
DELETE FROM run_model_output t USING logged_model m
WHERE m.model_id = t.model_id AND m.workspace_id <> t.workspace_id;
DELETE FROM run_model_input t USING logged_model m
WHERE m.model_id = t.model_id AND m.workspace_id <> t.workspace_id;
DELETE FROM logged_model_metric t USING logged_model m
WHERE m.model_id = t.model_id AND m.workspace_id <> t.workspace_id;

-- Blobs were shared by every run that logged the same content; from now on dedup is per
-- workspace. A blob goes to the lowest workspace that references it (or the default one when
-- nothing does: it waits for gc); every other workspace referencing it gets its own copy of the
-- row (and of its chunks, for the postgresql store). Copies in a file or S3 store name the same
-- bytes (the same locator): gc removes such bytes only when no row names them any more
-- (modelyard/artifacts/gc.py).
UPDATE artifact_blob b SET workspace_id = coalesce(
    (SELECT min(a.workspace_id) FROM run_artifact a WHERE a.blob_id = b.blob_id), 1);
CREATE TEMPORARY TABLE blob_copy_0013 AS
SELECT DISTINCT a.blob_id AS old_id, a.workspace_id, NULL::bigint AS new_id
FROM run_artifact a JOIN artifact_blob b ON b.blob_id = a.blob_id
WHERE a.workspace_id <> b.workspace_id;
UPDATE blob_copy_0013 SET new_id = nextval(pg_get_serial_sequence('artifact_blob', 'blob_id'));
INSERT INTO artifact_blob (blob_id, store_url, sha256, size, locator, created_at, condemned_at,
                           workspace_id)
OVERRIDING SYSTEM VALUE
SELECT c.new_id, b.store_url, b.sha256, b.size, b.locator, b.created_at, b.condemned_at,
       c.workspace_id
FROM blob_copy_0013 c JOIN artifact_blob b ON b.blob_id = c.old_id;
UPDATE artifact_chunk t SET workspace_id = b.workspace_id
FROM artifact_blob b WHERE b.blob_id = t.blob_id;
INSERT INTO artifact_chunk (blob_id, seq, data, workspace_id)
SELECT c.new_id, k.seq, k.data, c.workspace_id
FROM blob_copy_0013 c JOIN artifact_chunk k ON k.blob_id = c.old_id;
UPDATE run_artifact a SET blob_id = c.new_id
FROM blob_copy_0013 c WHERE c.old_id = a.blob_id AND c.workspace_id = a.workspace_id;
DROP TABLE blob_copy_0013;

-- 3. Every tenant table: NOT NULL, and the scope as the default (replacing DEFAULT 1).
ALTER TABLE experiment ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE registered_model ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE event ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE webhook ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE dataset ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE logged_model ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE experiment_tag ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_param ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_tag ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE metric_series ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE metric_chunk ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE metric_chunk_rollup ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE ingest_receipt ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE registered_model_tag ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE model_version ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE model_version_tag ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE model_alias ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE webhook_delivery ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE webhook_attempt ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE artifact_blob ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE artifact_chunk ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_artifact ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE dataset_version ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_input ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_output ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE logged_model_tag ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE logged_model_param ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_model_output ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE run_model_input ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;
ALTER TABLE logged_model_metric ALTER COLUMN workspace_id SET NOT NULL, ALTER COLUMN workspace_id
    SET DEFAULT nullif(current_setting('modelyard.workspace', true), '')::integer;

-- 4. Keys. The references go first (they depend on the keys they point at), then the keys are
-- rebuilt with workspace_id, then the references come back as composite foreign keys.
ALTER TABLE experiment_tag DROP CONSTRAINT experiment_tag_experiment_fk;
ALTER TABLE run DROP CONSTRAINT run_experiment_fk, DROP CONSTRAINT run_parent_fk;
ALTER TABLE run_param DROP CONSTRAINT run_param_run_fk;
ALTER TABLE run_tag DROP CONSTRAINT run_tag_run_fk;
ALTER TABLE metric_series DROP CONSTRAINT metric_series_run_fk;
ALTER TABLE metric_chunk DROP CONSTRAINT metric_chunk_series_fk;
ALTER TABLE metric_chunk_rollup DROP CONSTRAINT metric_chunk_rollup_chunk_fk;
ALTER TABLE ingest_receipt DROP CONSTRAINT ingest_receipt_run_fk;
ALTER TABLE registered_model_tag DROP CONSTRAINT registered_model_tag_model_fk;
ALTER TABLE model_version DROP CONSTRAINT model_version_model_fk,
    DROP CONSTRAINT model_version_run_fk, DROP CONSTRAINT model_version_logged_model_fk;
ALTER TABLE model_version_tag DROP CONSTRAINT model_version_tag_version_fk;
ALTER TABLE model_alias DROP CONSTRAINT model_alias_version_fk;
ALTER TABLE webhook_delivery DROP CONSTRAINT webhook_delivery_webhook_fk,
    DROP CONSTRAINT webhook_delivery_event_fk;
ALTER TABLE webhook_attempt DROP CONSTRAINT webhook_attempt_delivery_fk;
ALTER TABLE artifact_chunk DROP CONSTRAINT artifact_chunk_blob_fk;
ALTER TABLE run_artifact DROP CONSTRAINT run_artifact_run_fk, DROP CONSTRAINT run_artifact_blob_fk;
ALTER TABLE dataset_version DROP CONSTRAINT dataset_version_dataset_fk;
ALTER TABLE run_input DROP CONSTRAINT run_input_run_fk,
    DROP CONSTRAINT run_input_dataset_version_fk;
ALTER TABLE run_output DROP CONSTRAINT run_output_run_fk,
    DROP CONSTRAINT run_output_dataset_version_fk;
ALTER TABLE logged_model DROP CONSTRAINT logged_model_experiment_fk,
    DROP CONSTRAINT logged_model_run_fk;
ALTER TABLE logged_model_tag DROP CONSTRAINT logged_model_tag_model_fk;
ALTER TABLE logged_model_param DROP CONSTRAINT logged_model_param_model_fk;
ALTER TABLE run_model_output DROP CONSTRAINT run_model_output_run_fk,
    DROP CONSTRAINT run_model_output_model_fk;
ALTER TABLE run_model_input DROP CONSTRAINT run_model_input_run_fk,
    DROP CONSTRAINT run_model_input_model_fk;
ALTER TABLE logged_model_metric DROP CONSTRAINT logged_model_metric_model_fk,
    DROP CONSTRAINT logged_model_metric_run_fk, DROP CONSTRAINT logged_model_metric_point_uq;

ALTER TABLE experiment DROP CONSTRAINT experiment_pk,
    ADD CONSTRAINT experiment_pk PRIMARY KEY (experiment_id, workspace_id);
ALTER TABLE experiment_tag DROP CONSTRAINT experiment_tag_pk,
    ADD CONSTRAINT experiment_tag_pk PRIMARY KEY (experiment_id, key, workspace_id);
ALTER TABLE run DROP CONSTRAINT run_pk,
    ADD CONSTRAINT run_pk PRIMARY KEY (run_id, workspace_id);
ALTER TABLE run_param DROP CONSTRAINT run_param_pk,
    ADD CONSTRAINT run_param_pk PRIMARY KEY (run_id, key, workspace_id);
ALTER TABLE run_tag DROP CONSTRAINT run_tag_pk,
    ADD CONSTRAINT run_tag_pk PRIMARY KEY (run_id, key, workspace_id);
ALTER TABLE metric_series DROP CONSTRAINT metric_series_pk,
    ADD CONSTRAINT metric_series_pk PRIMARY KEY (run_id, key, workspace_id);
ALTER TABLE metric_chunk DROP CONSTRAINT metric_chunk_pk,
    ADD CONSTRAINT metric_chunk_pk PRIMARY KEY (run_id, key, seq, workspace_id);
ALTER TABLE metric_chunk_rollup DROP CONSTRAINT metric_chunk_rollup_pk,
    ADD CONSTRAINT metric_chunk_rollup_pk PRIMARY KEY (run_id, key, seq, workspace_id);
ALTER TABLE ingest_receipt DROP CONSTRAINT ingest_receipt_pk,
    ADD CONSTRAINT ingest_receipt_pk PRIMARY KEY (run_id, idempotency_key, workspace_id);
ALTER TABLE registered_model DROP CONSTRAINT registered_model_pk,
    ADD CONSTRAINT registered_model_pk PRIMARY KEY (model_id, workspace_id);
ALTER TABLE registered_model_tag DROP CONSTRAINT registered_model_tag_pk,
    ADD CONSTRAINT registered_model_tag_pk PRIMARY KEY (model_id, key, workspace_id);
ALTER TABLE model_version DROP CONSTRAINT model_version_pk,
    ADD CONSTRAINT model_version_pk PRIMARY KEY (model_id, version, workspace_id);
ALTER TABLE model_version_tag DROP CONSTRAINT model_version_tag_pk,
    ADD CONSTRAINT model_version_tag_pk PRIMARY KEY (model_id, version, key, workspace_id);
ALTER TABLE model_alias DROP CONSTRAINT model_alias_pk,
    ADD CONSTRAINT model_alias_pk PRIMARY KEY (model_id, alias, workspace_id);
ALTER TABLE event DROP CONSTRAINT event_pk,
    ADD CONSTRAINT event_pk PRIMARY KEY (event_seq, workspace_id);
ALTER TABLE webhook DROP CONSTRAINT webhook_pk,
    ADD CONSTRAINT webhook_pk PRIMARY KEY (webhook_id, workspace_id);
ALTER TABLE webhook_delivery DROP CONSTRAINT webhook_delivery_pk,
    DROP CONSTRAINT webhook_delivery_uq,
    ADD CONSTRAINT webhook_delivery_pk PRIMARY KEY (delivery_id, workspace_id),
    ADD CONSTRAINT webhook_delivery_uq UNIQUE (webhook_id, event_seq, workspace_id);
ALTER TABLE webhook_attempt DROP CONSTRAINT webhook_attempt_pk,
    ADD CONSTRAINT webhook_attempt_pk PRIMARY KEY (delivery_id, attempt, workspace_id);
ALTER TABLE artifact_blob DROP CONSTRAINT artifact_blob_pk,
    ADD CONSTRAINT artifact_blob_pk PRIMARY KEY (blob_id, workspace_id);
DROP INDEX artifact_blob_content_uq;
CREATE UNIQUE INDEX artifact_blob_content_uq ON artifact_blob (store_url, sha256, workspace_id);
ALTER TABLE artifact_chunk DROP CONSTRAINT artifact_chunk_pk,
    ADD CONSTRAINT artifact_chunk_pk PRIMARY KEY (blob_id, seq, workspace_id);
ALTER TABLE run_artifact DROP CONSTRAINT run_artifact_pk,
    ADD CONSTRAINT run_artifact_pk PRIMARY KEY (run_id, path, workspace_id);
ALTER TABLE dataset DROP CONSTRAINT dataset_pk,
    ADD CONSTRAINT dataset_pk PRIMARY KEY (dataset_id, workspace_id);
ALTER TABLE dataset_version DROP CONSTRAINT dataset_version_pk,
    DROP CONSTRAINT dataset_version_digest_uq,
    ADD CONSTRAINT dataset_version_pk PRIMARY KEY (dataset_version_id, workspace_id),
    ADD CONSTRAINT dataset_version_digest_uq UNIQUE (dataset_id, digest, workspace_id);
ALTER TABLE run_input DROP CONSTRAINT run_input_pk,
    ADD CONSTRAINT run_input_pk PRIMARY KEY (run_id, dataset_version_id, context, workspace_id);
ALTER TABLE run_output DROP CONSTRAINT run_output_pk,
    ADD CONSTRAINT run_output_pk PRIMARY KEY (run_id, dataset_version_id, workspace_id);
ALTER TABLE logged_model DROP CONSTRAINT logged_model_pk,
    ADD CONSTRAINT logged_model_pk PRIMARY KEY (model_id, workspace_id);
ALTER TABLE logged_model_tag DROP CONSTRAINT logged_model_tag_pk,
    ADD CONSTRAINT logged_model_tag_pk PRIMARY KEY (model_id, key, workspace_id);
ALTER TABLE logged_model_param DROP CONSTRAINT logged_model_param_pk,
    ADD CONSTRAINT logged_model_param_pk PRIMARY KEY (model_id, key, workspace_id);
ALTER TABLE run_model_output DROP CONSTRAINT run_model_output_pk,
    ADD CONSTRAINT run_model_output_pk PRIMARY KEY (run_id, model_id, step, workspace_id);
ALTER TABLE run_model_input DROP CONSTRAINT run_model_input_pk,
    ADD CONSTRAINT run_model_input_pk PRIMARY KEY (run_id, model_id, workspace_id);
ALTER TABLE logged_model_metric ADD CONSTRAINT logged_model_metric_point_uq UNIQUE NULLS NOT DISTINCT
    (model_id, key, step, timestamp_ms, run_id, dataset_name, dataset_digest, workspace_id);

-- Optional links (ON DELETE SET NULL) clear only their own column: workspace_id stays.
ALTER TABLE experiment_tag ADD CONSTRAINT experiment_tag_experiment_fk
    FOREIGN KEY (workspace_id, experiment_id)
    REFERENCES experiment (workspace_id, experiment_id) ON DELETE CASCADE;
ALTER TABLE run
    ADD CONSTRAINT run_experiment_fk FOREIGN KEY (workspace_id, experiment_id)
        REFERENCES experiment (workspace_id, experiment_id),
    ADD CONSTRAINT run_parent_fk FOREIGN KEY (workspace_id, parent_run_id)
        REFERENCES run (workspace_id, run_id);
ALTER TABLE run_param ADD CONSTRAINT run_param_run_fk FOREIGN KEY (workspace_id, run_id)
    REFERENCES run (workspace_id, run_id) ON DELETE CASCADE;
ALTER TABLE run_tag ADD CONSTRAINT run_tag_run_fk FOREIGN KEY (workspace_id, run_id)
    REFERENCES run (workspace_id, run_id) ON DELETE CASCADE;
ALTER TABLE metric_series ADD CONSTRAINT metric_series_run_fk FOREIGN KEY (workspace_id, run_id)
    REFERENCES run (workspace_id, run_id) ON DELETE CASCADE;
ALTER TABLE metric_chunk ADD CONSTRAINT metric_chunk_series_fk
    FOREIGN KEY (workspace_id, run_id, key)
    REFERENCES metric_series (workspace_id, run_id, key) ON DELETE CASCADE;
ALTER TABLE metric_chunk_rollup ADD CONSTRAINT metric_chunk_rollup_chunk_fk
    FOREIGN KEY (workspace_id, run_id, key, seq)
    REFERENCES metric_chunk (workspace_id, run_id, key, seq) ON DELETE CASCADE;
ALTER TABLE ingest_receipt ADD CONSTRAINT ingest_receipt_run_fk FOREIGN KEY (workspace_id, run_id)
    REFERENCES run (workspace_id, run_id) ON DELETE CASCADE;
ALTER TABLE registered_model_tag ADD CONSTRAINT registered_model_tag_model_fk
    FOREIGN KEY (workspace_id, model_id)
    REFERENCES registered_model (workspace_id, model_id) ON DELETE CASCADE;
ALTER TABLE model_version
    ADD CONSTRAINT model_version_model_fk FOREIGN KEY (workspace_id, model_id)
        REFERENCES registered_model (workspace_id, model_id) ON DELETE CASCADE,
    ADD CONSTRAINT model_version_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE SET NULL (run_id),
    ADD CONSTRAINT model_version_logged_model_fk FOREIGN KEY (workspace_id, logged_model_id)
        REFERENCES logged_model (workspace_id, model_id) ON DELETE SET NULL (logged_model_id);
ALTER TABLE model_version_tag ADD CONSTRAINT model_version_tag_version_fk
    FOREIGN KEY (workspace_id, model_id, version)
    REFERENCES model_version (workspace_id, model_id, version) ON DELETE CASCADE;
ALTER TABLE model_alias ADD CONSTRAINT model_alias_version_fk
    FOREIGN KEY (workspace_id, model_id, version)
    REFERENCES model_version (workspace_id, model_id, version) ON DELETE CASCADE;
ALTER TABLE webhook_delivery
    ADD CONSTRAINT webhook_delivery_webhook_fk FOREIGN KEY (workspace_id, webhook_id)
        REFERENCES webhook (workspace_id, webhook_id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_delivery_event_fk FOREIGN KEY (workspace_id, event_seq)
        REFERENCES event (workspace_id, event_seq) ON DELETE CASCADE;
ALTER TABLE webhook_attempt ADD CONSTRAINT webhook_attempt_delivery_fk
    FOREIGN KEY (workspace_id, delivery_id)
    REFERENCES webhook_delivery (workspace_id, delivery_id) ON DELETE CASCADE;
ALTER TABLE artifact_chunk ADD CONSTRAINT artifact_chunk_blob_fk FOREIGN KEY (workspace_id, blob_id)
    REFERENCES artifact_blob (workspace_id, blob_id) ON DELETE CASCADE;
ALTER TABLE run_artifact
    ADD CONSTRAINT run_artifact_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE CASCADE,
    ADD CONSTRAINT run_artifact_blob_fk FOREIGN KEY (workspace_id, blob_id)
        REFERENCES artifact_blob (workspace_id, blob_id);
ALTER TABLE dataset_version ADD CONSTRAINT dataset_version_dataset_fk
    FOREIGN KEY (workspace_id, dataset_id)
    REFERENCES dataset (workspace_id, dataset_id) ON DELETE CASCADE;
ALTER TABLE run_input
    ADD CONSTRAINT run_input_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE CASCADE,
    ADD CONSTRAINT run_input_dataset_version_fk FOREIGN KEY (workspace_id, dataset_version_id)
        REFERENCES dataset_version (workspace_id, dataset_version_id);
ALTER TABLE run_output
    ADD CONSTRAINT run_output_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE CASCADE,
    ADD CONSTRAINT run_output_dataset_version_fk FOREIGN KEY (workspace_id, dataset_version_id)
        REFERENCES dataset_version (workspace_id, dataset_version_id);
ALTER TABLE logged_model
    ADD CONSTRAINT logged_model_experiment_fk FOREIGN KEY (workspace_id, experiment_id)
        REFERENCES experiment (workspace_id, experiment_id),
    ADD CONSTRAINT logged_model_run_fk FOREIGN KEY (workspace_id, source_run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE SET NULL (source_run_id);
ALTER TABLE logged_model_tag ADD CONSTRAINT logged_model_tag_model_fk
    FOREIGN KEY (workspace_id, model_id)
    REFERENCES logged_model (workspace_id, model_id) ON DELETE CASCADE;
ALTER TABLE logged_model_param ADD CONSTRAINT logged_model_param_model_fk
    FOREIGN KEY (workspace_id, model_id)
    REFERENCES logged_model (workspace_id, model_id) ON DELETE CASCADE;
ALTER TABLE run_model_output
    ADD CONSTRAINT run_model_output_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE CASCADE,
    ADD CONSTRAINT run_model_output_model_fk FOREIGN KEY (workspace_id, model_id)
        REFERENCES logged_model (workspace_id, model_id) ON DELETE CASCADE;
ALTER TABLE run_model_input
    ADD CONSTRAINT run_model_input_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE CASCADE,
    ADD CONSTRAINT run_model_input_model_fk FOREIGN KEY (workspace_id, model_id)
        REFERENCES logged_model (workspace_id, model_id) ON DELETE CASCADE;

ALTER TABLE logged_model_metric
    ADD CONSTRAINT logged_model_metric_model_fk FOREIGN KEY (workspace_id, model_id)
        REFERENCES logged_model (workspace_id, model_id) ON DELETE CASCADE,
    ADD CONSTRAINT logged_model_metric_run_fk FOREIGN KEY (workspace_id, run_id)
        REFERENCES run (workspace_id, run_id) ON DELETE CASCADE;

-- 5. The functions that name the old keys: the metric ingest's ON CONFLICT targets, and the
-- event fan-out, which gives each delivery its webhook's workspace.
CREATE OR REPLACE FUNCTION ingest_metric_staging_v2(
    p_run_id          uuid,
    p_idempotency_key text,
    p_append_limit    integer
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_experiment_id bigint;
    v_lifecycle     text;
    v_count         integer;
    v_recorded      integer;
    v_keys          text[];
    v_first_seq     integer[];
    v_appended      boolean[];
BEGIN
    -- FOR SHARE, as every other writer of run data: writers run side by side, but a concurrent
    -- delete (which locks the row FOR NO KEY UPDATE) waits for us or makes us see it deleted.
    SELECT r.experiment_id, r.lifecycle_stage INTO v_experiment_id, v_lifecycle
    FROM run r WHERE r.run_id = p_run_id
    FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', p_run_id
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'metric_series_run_fk';
    END IF;
    IF v_lifecycle <> 'active' THEN
        RAISE EXCEPTION 'run % is deleted', p_run_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'metric_run_active';
    END IF;

    SELECT coalesce(sum(m.n), 0) INTO v_count FROM pg_temp.metric_staging_v2 m;

    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO ingest_receipt (run_id, idempotency_key, point_count)
        VALUES (p_run_id, p_idempotency_key, v_count)
        ON CONFLICT (run_id, idempotency_key, workspace_id) DO NOTHING;
        IF NOT FOUND THEN
            SELECT ir.point_count INTO v_recorded FROM ingest_receipt ir
            WHERE ir.run_id = p_run_id AND ir.idempotency_key = p_idempotency_key;
            RETURN v_recorded;
        END IF;
    END IF;
    IF v_count = 0 THEN
        RETURN 0;
    END IF;

    WITH batch AS (
        SELECT m.key, sum(m.n)::integer AS n, count(*)::integer AS parts
        FROM pg_temp.metric_staging_v2 m GROUP BY m.key
    ), newest AS (
        -- The last point of a key's last part is its latest point in this batch.
        SELECT b.key, b.n, b.parts, m.n AS tail_n, m.steps[m.n] AS step,
               m.timestamps[m.n] AS ts, m.vals[m.n] AS val
        FROM batch b JOIN pg_temp.metric_staging_v2 m ON m.key = b.key AND m.part = b.parts - 1
    ), upserted AS (
        INSERT INTO metric_series AS s (
            run_id, key, experiment_id, last_value, last_step, last_timestamp,
            point_count, chunk_count, tail_points
        )
        SELECT p_run_id, l.key, v_experiment_id, l.val, l.step, l.ts, l.n, l.parts, l.tail_n
        FROM newest l
        ORDER BY l.key
        ON CONFLICT (run_id, key, workspace_id) DO UPDATE SET
            last_value = CASE
                WHEN (EXCLUDED.last_step, EXCLUDED.last_timestamp, EXCLUDED.last_value)
                     > (s.last_step, s.last_timestamp, s.last_value)
                THEN EXCLUDED.last_value ELSE s.last_value END,
            last_step = CASE
                WHEN (EXCLUDED.last_step, EXCLUDED.last_timestamp, EXCLUDED.last_value)
                     > (s.last_step, s.last_timestamp, s.last_value)
                THEN EXCLUDED.last_step ELSE s.last_step END,
            last_timestamp = CASE
                WHEN (EXCLUDED.last_step, EXCLUDED.last_timestamp, EXCLUDED.last_value)
                     > (s.last_step, s.last_timestamp, s.last_value)
                THEN EXCLUDED.last_timestamp ELSE s.last_timestamp END,
            point_count = s.point_count + EXCLUDED.point_count,
            chunk_count = s.chunk_count + CASE
                WHEN s.tail_points > 0 AND s.tail_points + EXCLUDED.point_count <= p_append_limit
                THEN 0 ELSE EXCLUDED.chunk_count END,
            tail_points = CASE
                WHEN s.tail_points > 0 AND s.tail_points + EXCLUDED.point_count <= p_append_limit
                THEN s.tail_points + EXCLUDED.point_count ELSE EXCLUDED.tail_points END
        RETURNING s.key, s.chunk_count, s.tail_points
    )
    -- New parts leave tail_points = the last part's size <= n; an append leaves it above n.
    SELECT array_agg(u.key),
           array_agg(CASE WHEN u.tail_points > b.n THEN u.chunk_count
                          ELSE u.chunk_count - b.parts + 1 END),
           array_agg(u.tail_points > b.n)
    INTO v_keys, v_first_seq, v_appended
    FROM upserted u JOIN batch b ON b.key = u.key;

    UPDATE metric_chunk c SET (min_step, max_step, steps, timestamps, vals) = (
        SELECT min(t.step), max(t.step),
               array_agg(t.step ORDER BY t.step, t.ts, t.val),
               array_agg(t.ts ORDER BY t.step, t.ts, t.val),
               array_agg(t.val ORDER BY t.step, t.ts, t.val)
        FROM unnest(c.steps || m.steps, c.timestamps || m.timestamps, c.vals || m.vals)
             AS t(step, ts, val)
    )
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN pg_temp.metric_staging_v2 m ON m.key = p.key
    WHERE p.appended AND c.run_id = p_run_id AND c.key = p.key AND c.seq = p.seq;

    INSERT INTO metric_chunk (run_id, key, seq, min_step, max_step, steps, timestamps, vals)
    SELECT p_run_id, m.key, p.seq + m.part, m.min_step, m.max_step, m.steps, m.timestamps, m.vals
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN pg_temp.metric_staging_v2 m ON m.key = p.key
    WHERE NOT p.appended;

    INSERT INTO metric_chunk_rollup AS r (
        run_id, key, seq, point_count,
        min_steps, max_steps, min_times, max_times, min_vals, max_vals
    )
    SELECT p_run_id, m.key, p.seq + m.part, m.n,
           m.min_steps, m.max_steps, m.min_times, m.max_times, m.min_vals, m.max_vals
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN pg_temp.metric_staging_v2 m ON m.key = p.key
    WHERE NOT p.appended
    UNION ALL
    SELECT c.run_id, c.key, c.seq, cardinality(c.vals), b.*
    FROM unnest(v_keys, v_first_seq, v_appended) AS p(key, seq, appended)
    JOIN metric_chunk c ON c.run_id = p_run_id AND c.key = p.key AND c.seq = p.seq
    CROSS JOIN LATERAL metric_block_summary_v1(c.steps, c.timestamps, c.vals) b
    WHERE p.appended
    ON CONFLICT ON CONSTRAINT metric_chunk_rollup_pk DO UPDATE SET
        point_count = EXCLUDED.point_count,
        min_steps = EXCLUDED.min_steps,
        max_steps = EXCLUDED.max_steps,
        min_times = EXCLUDED.min_times,
        max_times = EXCLUDED.max_times,
        min_vals = EXCLUDED.min_vals,
        max_vals = EXCLUDED.max_vals;

    RETURN v_count;
END;
$$;

CREATE OR REPLACE FUNCTION emit_event_v1(p_workspace_id integer, p_entity text, p_action text,
                              p_payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    seq bigint;
    fanned integer;
BEGIN
    -- Held to the end of the transaction: event-writing commits go one at a time, so sequence
    -- numbers are handed out in commit order (hashtext('modelyard.event_seq')).
    PERFORM pg_advisory_xact_lock(-1364627318);
    seq := nextval('event_seq_seq');
    INSERT INTO event (event_seq, workspace_id, entity, action, payload, actor, request_id)
    VALUES (seq, p_workspace_id, p_entity, p_action, p_payload,
            nullif(current_setting('modelyard.actor', true), ''),
            nullif(current_setting('modelyard.request_id', true), ''));
    INSERT INTO webhook_delivery (workspace_id, webhook_id, event_seq, entity, action)
    SELECT w.workspace_id, w.webhook_id, seq, p_entity,
           CASE WHEN p_entity || '.' || p_action = ANY (w.events) THEN p_action ELSE 'created' END
    FROM webhook w
    WHERE w.workspace_id = p_workspace_id AND w.status = 'ACTIVE'
      AND (p_entity || '.' || p_action = ANY (w.events)
           OR (p_entity = 'model_version_alias' AND p_action = 'moved'
               AND 'model_version_alias.created' = ANY (w.events)));
    GET DIAGNOSTICS fanned = ROW_COUNT;
    IF fanned > 0 THEN
        PERFORM pg_notify('modelyard_webhooks', '');
    END IF;
END
$$;
