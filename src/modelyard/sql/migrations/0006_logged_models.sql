-- Logged models (MLflow 3's LoggedModel), their tags and params, runs' model outputs and inputs,
-- and the logged model a model version was registered from.

ALTER TABLE model_version ADD COLUMN logged_model_id text;

-- The view gains the column at its end (CREATE OR REPLACE VIEW may only append columns).
CREATE OR REPLACE VIEW model_version_record AS
SELECT m.name,
       v.version,
       floor(extract(epoch FROM v.created_at) * 1000)::bigint AS creation_timestamp,
       floor(extract(epoch FROM v.updated_at) * 1000)::bigint AS last_updated_timestamp,
       v.stage,
       v.source,
       v.run_id,
       v.run_link,
       v.description,
       v.user_id,
       v.status,
       v.status_message,
       coalesce((SELECT jsonb_object_agg(t.key, t.value) FROM model_version_tag t
                 WHERE t.model_id = v.model_id AND t.version = v.version), '{}'::jsonb) AS tags,
       ARRAY(SELECT a.alias FROM model_alias a
             WHERE a.model_id = v.model_id AND a.version = v.version
             ORDER BY a.alias) AS aliases,
       v.model_id,
       m.workspace_id,
       v.logged_model_id
FROM registered_model m
JOIN model_version v ON v.model_id = m.model_id;

-- Logged models: a directory of files with a small metadata file (MLmodel: flavor, signature,
-- framework versions), logged from a run. Shaped like MLflow 3's LoggedModel so its API maps
-- onto these rows: model_id is MLflow's 'm-<32 hex>', status PENDING until the files are up,
-- then READY (or FAILED). The files are run artifacts of the source run under artifact_path
-- (models/<model_id>), so they share the artifact store's dedup, checks and gc.
CREATE TABLE logged_model (
    model_id        text        NOT NULL,
    workspace_id    integer     NOT NULL DEFAULT 1,
    experiment_id   bigint      NOT NULL,
    name            text        NOT NULL,
    model_type      text,
    source_run_id   uuid,
    status          text        NOT NULL DEFAULT 'PENDING',
    status_message  text,
    artifact_path   text        NOT NULL,
    flavor          text,
    -- The metadata file's content (signature, framework versions...), readable without the files.
    metadata        jsonb       NOT NULL DEFAULT '{}',
    user_id         text,
    lifecycle_stage text        NOT NULL DEFAULT 'active',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT logged_model_pk PRIMARY KEY (model_id),
    CONSTRAINT logged_model_id_ck CHECK (model_id ~ '^m-[0-9a-f]{32}$'),
    CONSTRAINT logged_model_workspace_fk FOREIGN KEY (workspace_id)
        REFERENCES workspace (workspace_id),
    CONSTRAINT logged_model_experiment_fk FOREIGN KEY (experiment_id)
        REFERENCES experiment (experiment_id),
    -- A purged run leaves its models behind, like a model version's run link.
    CONSTRAINT logged_model_run_fk FOREIGN KEY (source_run_id)
        REFERENCES run (run_id) ON DELETE SET NULL,
    CONSTRAINT logged_model_name_ck CHECK (char_length(name) BETWEEN 1 AND 256),
    CONSTRAINT logged_model_status_ck CHECK (status IN ('PENDING', 'READY', 'FAILED')),
    CONSTRAINT logged_model_lifecycle_ck CHECK (lifecycle_stage IN ('active', 'deleted')),
    CONSTRAINT logged_model_metadata_ck CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT logged_model_artifact_path_ck CHECK (char_length(artifact_path) BETWEEN 1 AND 1024)
);

-- Lineage finds a run's models, and listings an experiment's models newest first.
CREATE INDEX logged_model_run_idx ON logged_model (source_run_id) WHERE source_run_id IS NOT NULL;
CREATE INDEX logged_model_experiment_idx ON logged_model (experiment_id, created_at DESC, model_id);

CREATE TABLE logged_model_tag (
    model_id text NOT NULL,
    key      text NOT NULL,
    value    text NOT NULL,
    CONSTRAINT logged_model_tag_pk PRIMARY KEY (model_id, key),
    CONSTRAINT logged_model_tag_model_fk FOREIGN KEY (model_id)
        REFERENCES logged_model (model_id) ON DELETE CASCADE
);

-- Params are immutable, as a run's are (MLflow: "immutable key-value pairs of the model").
CREATE TABLE logged_model_param (
    model_id text NOT NULL,
    key      text NOT NULL,
    value    text NOT NULL,
    CONSTRAINT logged_model_param_pk PRIMARY KEY (model_id, key),
    CONSTRAINT logged_model_param_model_fk FOREIGN KEY (model_id)
        REFERENCES logged_model (model_id) ON DELETE CASCADE
);

-- MLflow 3's run outputs (LogOutputs: a model produced at a step) and model inputs (a run that
-- took a logged model, e.g. to fine-tune or evaluate it). Keys start with run_id; lineage walks
-- the other way through the model_id indexes.
CREATE TABLE run_model_output (
    run_id     uuid        NOT NULL,
    model_id   text        NOT NULL,
    step       bigint      NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT run_model_output_pk PRIMARY KEY (run_id, model_id, step),
    CONSTRAINT run_model_output_run_fk FOREIGN KEY (run_id) REFERENCES run (run_id) ON DELETE CASCADE,
    CONSTRAINT run_model_output_model_fk FOREIGN KEY (model_id)
        REFERENCES logged_model (model_id) ON DELETE CASCADE
);

CREATE INDEX run_model_output_model_idx ON run_model_output (model_id, run_id);

CREATE TABLE run_model_input (
    run_id     uuid        NOT NULL,
    model_id   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT run_model_input_pk PRIMARY KEY (run_id, model_id),
    CONSTRAINT run_model_input_run_fk FOREIGN KEY (run_id) REFERENCES run (run_id) ON DELETE CASCADE,
    CONSTRAINT run_model_input_model_fk FOREIGN KEY (model_id)
        REFERENCES logged_model (model_id) ON DELETE CASCADE
);

CREATE INDEX run_model_input_model_idx ON run_model_input (model_id, run_id);

-- The runs that produced each logged model: its source run and any run that logged it as an
-- output. Lineage reads producers through this one view; the planner pushes a run_id or
-- model_id predicate into both branches (logged_model_run_idx or logged_model_pk, and
-- run_model_output_pk or run_model_output_model_idx).
CREATE VIEW logged_model_producer AS
SELECT lm.source_run_id AS run_id, lm.model_id
FROM logged_model lm
WHERE lm.source_run_id IS NOT NULL
UNION
SELECT o.run_id, o.model_id
FROM run_model_output o;

-- A model version may name the logged model it was registered from (MLflow 3's model_id). The
-- column is logged_model_id because model_version.model_id is the registered model's key.
ALTER TABLE model_version
    ADD CONSTRAINT model_version_logged_model_fk FOREIGN KEY (logged_model_id)
        REFERENCES logged_model (model_id) ON DELETE SET NULL;

CREATE INDEX model_version_logged_model_idx ON model_version (logged_model_id)
    WHERE logged_model_id IS NOT NULL;
