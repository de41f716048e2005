"""Records of logged models (MLflow 3's LoggedModel) and the checks of what a logger sends.

A logged model is a directory of files under its source run's artifacts (``artifact_path``,
``models/<model_id>``) with a metadata file :data:`METADATA_FILE` at its top; the row keeps the
metadata too, so the registry, lineage and the MLflow API read it without the files.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from modelyard.errors import InvalidInput
from modelyard.limits import METADATA_FILE as METADATA_FILE  # re-exported for the store
from modelyard.limits import TEXT_PATTERN
from modelyard.store import validation

MAX_METADATA_BYTES = 1024 * 1024
MAX_LABEL_LENGTH = 256
LoggedModelStatus = Literal["PENDING", "READY", "FAILED"]
FinalStatus = Literal["READY", "FAILED"]

_MODEL_ID = re.compile(r"^m-[0-9a-f]{32}$")

ModelId = Annotated[str, Meta(pattern=_MODEL_ID.pattern, description="m- and 32 hex digits")]
# check_label's rule (text without NUL, 1 to 256 characters), stated for the OpenAPI document.
Label = Annotated[str, Meta(min_length=1, max_length=MAX_LABEL_LENGTH, pattern=TEXT_PATTERN)]


class Registration(msgspec.Struct):
    """A model version registered from the logged model."""

    name: str
    version: int


class ModelMetricPoint(msgspec.Struct, kw_only=True):
    """A metric point for a logged model (MLflow 3's Metric with ``model_id``), on a dataset
    when ``dataset_name`` says so; ``timestamp`` in epoch milliseconds."""

    model_id: str
    key: str
    value: float
    step: int
    timestamp: int
    dataset_name: str | None = None
    dataset_digest: str | None = None


class ModelMetric(ModelMetricPoint, kw_only=True):
    """A stored model metric point, with the run that logged it."""

    run_id: str


class LoggedModel(msgspec.Struct, kw_only=True):
    """A model logged from a run; times are milliseconds since the epoch."""

    model_id: str
    experiment_id: int
    name: str
    model_type: str | None
    source_run_id: str | None
    status: LoggedModelStatus
    status_message: str | None
    artifact_path: str
    artifact_uri: str | None
    flavor: str | None
    metadata: dict[str, Any]
    user_id: str | None
    lifecycle_stage: str
    creation_timestamp: int
    last_updated_timestamp: int
    tags: dict[str, str]
    params: dict[str, str]
    registrations: list[Registration]
    # Its metrics, every point (as MLflow's logged model shows them), by key, step and time.
    metrics: list[ModelMetric] = []


class ModelOutput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A logged model a run produced, at a step (MLflow 3's ModelOutput)."""

    model_id: ModelId
    step: Annotated[int, Meta(ge=0, le=2**63 - 1)] = 0


class ModelInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A logged model a run took as input (MLflow 3's ModelInput)."""

    model_id: ModelId


def new_model_id() -> str:
    return f"m-{uuid.uuid4().hex}"


def check_model_id(model_id: object) -> str:
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id):
        raise InvalidInput(
            f"model_id must be 'm-' and 32 lowercase hex digits, got {model_id!r}",
            field="model_id",
        )
    return model_id


def check_label(value: object, field: str) -> str | None:
    if value is None:
        return None
    text = validation.check_text(value, field, MAX_LABEL_LENGTH)
    if not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    return text


def check_metadata(metadata: Mapping[str, Any] | None) -> str:
    """The metadata as JSON text for the jsonb column: an object of at most 1 MiB."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping):
        raise InvalidInput("metadata must be a JSON object", field="metadata")
    try:
        text = msgspec.json.encode(dict(metadata)).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise InvalidInput(f"metadata is not JSON: {exc}", field="metadata") from None
    if len(text) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is larger than {MAX_METADATA_BYTES} bytes", field="metadata")
    return text


def artifact_uri(run_id: uuid.UUID | None, path: str) -> str | None:
    """``runs:/<run id>/<path>``, the address of the model's files among its run's artifacts."""
    return None if run_id is None else f"runs:/{run_id.hex}/{path}"


def model_from_row(row: Mapping[str, Any]) -> LoggedModel:
    run_id = row["source_run_id"]
    return LoggedModel(
        model_id=row["model_id"],
        experiment_id=row["experiment_id"],
        name=row["name"],
        model_type=row["model_type"],
        source_run_id=run_id.hex if run_id is not None else None,
        status=row["status"],
        status_message=row["status_message"],
        artifact_path=row["artifact_path"],
        artifact_uri=artifact_uri(run_id, row["artifact_path"]),
        flavor=row["flavor"],
        metadata=row["metadata"],
        user_id=row["user_id"],
        lifecycle_stage=row["lifecycle_stage"],
        creation_timestamp=row["created_ms"],
        last_updated_timestamp=row["updated_ms"],
        tags=row["tags"],
        params=row["params"],
        registrations=[Registration(r["name"], r["version"]) for r in row["registrations"]],
        metrics=[_metric_of(m) for m in row["metrics"]],
    )


def _metric_of(item: Mapping[str, Any]) -> ModelMetric:
    # jsonb has no NaN or infinities: PostgreSQL writes those values as the strings "NaN",
    # "Infinity" and "-Infinity", which float() reads back.
    return ModelMetric(
        model_id=item["model_id"],
        key=item["key"],
        value=float(item["value"]),
        step=item["step"],
        timestamp=item["timestamp"],
        run_id=uuid.UUID(item["run_id"]).hex,
        dataset_name=item["dataset_name"],
        dataset_digest=item["dataset_digest"],
    )
