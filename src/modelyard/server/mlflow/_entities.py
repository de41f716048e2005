"""Our records as MLflow's messages: experiments, runs, metrics, with MLflow's field names.

MLflow writes ids of experiments as strings, times as epoch milliseconds, tags and params as
lists of ``{"key", "value"}``, and a run as ``{"info", "data", "inputs"}`` where ``info`` carries
both ``run_id`` and its deprecated twin ``run_uuid``. Artifact locations we never stored (an
experiment created without one, and so its runs) are shown as MLflow's proxied default,
``mlflow-artifacts:/<experiment id>``, which the artifact proxy serves from our artifact store.
"""

from __future__ import annotations

from typing import Any

from modelyard.server.mlflow._protocol import wire_float
from modelyard.store.experiments import Experiment
from modelyard.store.run_data import Run

# MLflow keeps an experiment's description in this tag; we keep it in a column.
NOTE_TAG = "mlflow.note.content"


def key_values(pairs: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in pairs.items()]


def experiment_location(experiment_id: int, stored: str | None) -> str:
    """Where an experiment's artifacts live, as the mlflow client should see it."""
    return stored if stored is not None else f"mlflow-artifacts:/{experiment_id}"


def run_location(experiment_id: int, run_id: str, stored: str | None) -> str:
    """A run's artifact URI: the stored one, else MLflow's layout under the experiment's."""
    if stored is not None:
        return stored
    return f"{experiment_location(experiment_id, None)}/{run_id}/artifacts"


def experiment(record: Experiment) -> dict[str, Any]:
    tags = dict(record.tags)
    if record.description is not None:
        tags.setdefault(NOTE_TAG, record.description)
    return {
        "experiment_id": str(record.experiment_id),
        "name": record.name,
        "artifact_location": experiment_location(record.experiment_id, record.artifact_location),
        "lifecycle_stage": record.lifecycle_stage,
        "creation_time": record.creation_time,
        "last_update_time": record.last_update_time,
        "tags": key_values(tags),
    }


def run_info(record: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": record.run_id,
        "run_uuid": record.run_id,
        "run_name": record.name,
        "experiment_id": str(record.experiment_id),
        "status": record.status,
        "start_time": record.start_time,
        "artifact_uri": run_location(record.experiment_id, record.run_id, record.artifact_uri),
        "lifecycle_stage": record.lifecycle_stage,
    }
    if record.end_time is not None:
        info["end_time"] = record.end_time
    if record.user_id is not None:
        info["user_id"] = record.user_id
    return info


def run(
    record: Run, inputs: dict[str, Any] | None = None, outputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A run with its latest metrics, params and tags, and what it read and wrote."""
    tags = dict(record.tags)
    # The client reads the run name and parent from these tags, as MLflow's server keeps them.
    tags["mlflow.runName"] = record.name
    if record.parent_run_id is not None:
        tags.setdefault("mlflow.parentRunId", record.parent_run_id)
    if record.user_id is not None:
        tags.setdefault("mlflow.user", record.user_id)
    metrics = [
        {
            "key": key,
            "value": wire_float(latest.value),
            "timestamp": latest.timestamp,
            "step": latest.step,
        }
        for key, latest in record.metrics.items()
    ]
    return {
        "info": run_info(record),
        "data": {"metrics": metrics, "params": key_values(record.params), "tags": key_values(tags)},
        "inputs": inputs if inputs is not None else {},
        "outputs": outputs if outputs is not None else {},
    }
