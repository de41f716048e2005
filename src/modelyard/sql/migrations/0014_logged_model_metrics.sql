-- MLflow 3's model metrics (log-metric / log-batch with model_id and dataset fields), a row per
-- point, for the logged model's metrics and model search by metric. schema.sql says why.
CREATE TABLE logged_model_metric (
    model_id       text             NOT NULL,
    key            text             NOT NULL,
    value          double precision NOT NULL,
    step           bigint           NOT NULL,
    timestamp_ms   bigint           NOT NULL,
    run_id         uuid             NOT NULL,
    dataset_name   text,
    dataset_digest text,
    CONSTRAINT logged_model_metric_model_fk FOREIGN KEY (model_id)
        REFERENCES logged_model (model_id) ON DELETE CASCADE,
    CONSTRAINT logged_model_metric_run_fk FOREIGN KEY (run_id) REFERENCES run (run_id) ON DELETE CASCADE,
    CONSTRAINT logged_model_metric_point_uq UNIQUE NULLS NOT DISTINCT
        (model_id, key, step, timestamp_ms, run_id, dataset_name, dataset_digest),
    CONSTRAINT logged_model_metric_dataset_ck CHECK (dataset_digest IS NULL OR dataset_name IS NOT NULL)
);

CREATE INDEX logged_model_metric_latest_idx
    ON logged_model_metric (key, model_id, timestamp_ms DESC, step DESC);
CREATE INDEX logged_model_metric_run_idx ON logged_model_metric (run_id);
