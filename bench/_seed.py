"""Bulk loads by SQL: the search experiment into both systems, and MLflow's long metric history.

Only data whose loading is not what is measured goes in this way (see _dataset). The tables and
columns are each system's own: modelyard's schema.sql, and the tables ``mlflow db upgrade``
creates. Everything else (experiments for ingest and history, the history run, the model, its
versions and alias) is created through each server's REST API.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from bench._dataset import SEARCH_EXPERIMENT, SeedRun, Series
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.db.migrate import upgrade

# -- modelyard --------------------------------------------------------------------------------

MY_SCOPE = "SELECT set_config('modelyard.workspace', '1', false)"
MY_EXPERIMENT = "INSERT INTO experiment (name) VALUES (%s) RETURNING experiment_id"
MY_RUNS = (
    "COPY run (run_id, experiment_id, name, status, start_time, end_time, user_id,"
    " lifecycle_stage) FROM STDIN"
)
MY_PARAMS = "COPY run_param (run_id, key, value) FROM STDIN"
MY_TAGS = "COPY run_tag (run_id, key, value) FROM STDIN"
MY_SERIES = (
    "COPY metric_series (run_id, key, experiment_id, last_value, last_step, last_timestamp,"
    " point_count, chunk_count, tail_points) FROM STDIN"
)
# One chunk of one point per series, numbered as the ingest function numbers a first chunk.
MY_CHUNKS = (
    "COPY metric_chunk (run_id, key, seq, min_step, max_step, steps, timestamps, vals) FROM STDIN"
)


def seed_modelyard(
    dsn: str, runs: Sequence[SeedRun], experiment: str = SEARCH_EXPERIMENT
) -> int:
    """Apply modelyard's schema, load the search runs; return the experiment id."""
    upgrade(dsn, DEFAULT_SCHEMA)
    with psycopg.connect(with_schema(dsn)) as conn, conn.cursor() as cur:
        # Rows take their workspace from the request scope (no scope: the insert fails); the
        # seed is the default workspace's, for this whole session.
        cur.execute(MY_SCOPE)
        row = cur.execute(MY_EXPERIMENT, [experiment]).fetchone()
        assert row is not None
        experiment_id = int(row[0])
        with cur.copy(MY_RUNS) as copy:
            for r in runs:
                copy.write_row(
                    (r.run_id, experiment_id, r.name, "FINISHED", r.start, r.end, "bench", "active")
                )
        with cur.copy(MY_PARAMS) as copy:
            for r in runs:
                copy.write_row((r.run_id, "lr", r.lr))
                copy.write_row((r.run_id, "optimizer", r.optimizer))
        with cur.copy(MY_TAGS) as copy:
            for r in runs:
                copy.write_row((r.run_id, "team", r.team))
        with cur.copy(MY_SERIES) as copy:
            for r in runs:
                for key, value in (("loss", r.loss), ("acc", r.acc)):
                    copy.write_row((r.run_id, key, experiment_id, value, 0, r.end_ms, 1, 1, 1))
        with cur.copy(MY_CHUNKS) as copy:
            for r in runs:
                for key, value in (("loss", r.loss), ("acc", r.acc)):
                    copy.write_row(
                        (r.run_id, key, 1, 0, 0, "{0}", f"{{{r.end_ms}}}", f"{{{value!r}}}")
                    )
    return experiment_id


# -- MLflow -----------------------------------------------------------------------------------

ML_EXPERIMENT = (
    "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time,"
    " last_update_time) VALUES (%s, %s, 'active', %s, %s) RETURNING experiment_id"
)
ML_RUNS = (
    "COPY runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status,"
    " start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)"
    " FROM STDIN"
)
ML_PARAMS = "COPY params (key, value, run_uuid) FROM STDIN"
ML_TAGS = "COPY tags (key, value, run_uuid) FROM STDIN"
ML_METRICS = "COPY metrics (key, value, timestamp, run_uuid, step, is_nan) FROM STDIN"
ML_LATEST = "COPY latest_metrics (key, value, timestamp, step, is_nan, run_uuid) FROM STDIN"
ML_LATEST_UPSERT = (
    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
    " VALUES (%s, %s, %s, %s, false, %s)"
    " ON CONFLICT (key, run_uuid) DO UPDATE SET value = EXCLUDED.value,"
    " timestamp = EXCLUDED.timestamp, step = EXCLUDED.step"
)


def seed_mlflow(
    dsn: str, runs: Sequence[SeedRun], artifact_root: str, experiment: str = SEARCH_EXPERIMENT
) -> int:
    """Load the search runs into MLflow's tables (already created); return the experiment id."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        now = runs[-1].end_ms if runs else 0
        row = cur.execute(
            ML_EXPERIMENT, [experiment, f"{artifact_root}/{experiment}", now, now]
        ).fetchone()
        assert row is not None
        experiment_id = int(row[0])
        with cur.copy(ML_RUNS) as copy:
            for r in runs:
                copy.write_row(
                    (
                        r.run_id,
                        r.name,
                        "UNKNOWN",
                        "",
                        "",
                        "bench",
                        "FINISHED",
                        r.start_ms,
                        r.end_ms,
                        "",
                        "active",
                        f"{artifact_root}/{experiment}/{r.run_id}/artifacts",
                        experiment_id,
                    )
                )
        with cur.copy(ML_PARAMS) as copy:
            for r in runs:
                copy.write_row(("lr", r.lr, r.run_id))
                copy.write_row(("optimizer", r.optimizer, r.run_id))
        with cur.copy(ML_TAGS) as copy:
            for r in runs:
                copy.write_row(("team", r.team, r.run_id))
        for statement in (ML_METRICS, ML_LATEST):
            with cur.copy(statement) as copy:
                for r in runs:
                    for key, value in (("loss", r.loss), ("acc", r.acc)):
                        if statement is ML_METRICS:
                            copy.write_row((key, value, r.end_ms, r.run_id, 0, False))
                        else:
                            copy.write_row((key, value, r.end_ms, 0, False, r.run_id))
    return experiment_id


def seed_mlflow_history(dsn: str, run_id: str, key: str, series: Series) -> None:
    """One long series into MLflow's ``metrics`` (a row per point) and its latest value."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        with cur.copy(ML_METRICS) as copy:
            for step, ts, value in zip(series.steps, series.timestamps, series.values, strict=True):
                copy.write_row((key, value, ts, run_id, step, False))
        cur.execute(
            ML_LATEST_UPSERT,
            [key, series.values[-1], series.timestamps[-1], series.steps[-1], run_id],
        )
