"""Request bodies of ``/api/v1`` and the error shape, as msgspec structs.

Responses are the store's own records (``Experiment``, ``Run``, ``ModelVersion``...), which are
msgspec structs too, so one type describes a record in the store, on the wire and in the OpenAPI
document. Request structs refuse unknown fields: a misspelt field is a 400, not silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from modelyard.artifacts.owned import LOCATION_RULE, SOURCE_RULE
from modelyard.store.dataset_records import MAX_DATASETS_PER_BATCH, DatasetSpec, InputSpec
from modelyard.store.logged_model_records import (
    FinalStatus,
    Label,
    ModelId,
    ModelInput,
    ModelOutput,
)

NonNegativeInt = Annotated[int, Meta(ge=0, le=2**63 - 1)]
PositiveInt = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Version = Annotated[int, Meta(ge=1, le=2**31 - 1)]
MaxResults = Annotated[int, Meta(ge=1, le=1000)]
Lifecycle = Literal["active", "deleted", "all"]
Tags = dict[str, str]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies."""


# -- errors -----------------------------------------------------------------------------------


class ErrorDetail(msgspec.Struct):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(msgspec.Struct):
    """The one error shape of every ``4xx``/``5xx`` answer."""

    error: ErrorDetail


# -- experiments ------------------------------------------------------------------------------


class CreateExperiment(Body):
    name: str
    description: str | None = None
    artifact_location: Annotated[str, Meta(description=LOCATION_RULE)] | None = None
    tags: Tags | None = None


class UpdateExperiment(Body):
    """Fields to change; an absent field is left alone, ``"description": null`` clears it."""

    name: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET


class TagValue(Body):
    value: str


# -- runs -------------------------------------------------------------------------------------


class CreateRun(Body):
    experiment_id: NonNegativeInt
    name: str | None = None
    start_time: NonNegativeInt | None = None
    user_id: str | None = None
    parent_run_id: str | None = None
    tags: Tags | None = None


class UpdateRun(Body):
    """Fields to change; ``status`` to a terminal state usually comes with ``end_time``."""

    name: str | UnsetType = UNSET
    status: Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"] | UnsetType = UNSET
    end_time: NonNegativeInt | UnsetType = UNSET


class LogParams(Body):
    params: Tags


class SetTags(Body):
    tags: Tags


class SearchRuns(Body):
    experiment_ids: list[NonNegativeInt]
    filter: str | None = None
    order_by: list[str] = msgspec.field(default_factory=list)
    max_results: MaxResults = 100
    page_token: str | None = None
    lifecycle: Lifecycle = "active"


# -- registry ---------------------------------------------------------------------------------


class CreateModel(Body):
    name: str
    description: str | None = None
    tags: Tags | None = None


class UpdateModel(Body):
    """``name`` renames the model; ``"description": null`` clears the description."""

    name: str | UnsetType = UNSET
    description: str | UnsetType | None = UNSET


class CreateVersion(Body):
    source: Annotated[str, Meta(description=SOURCE_RULE)]
    run_id: str | None = None
    model_id: ModelId | None = None
    run_link: str | None = None
    description: str | None = None
    user_id: str | None = None
    tags: Tags | None = None


class UpdateVersion(Body):
    description: str | None


class TransitionStage(Body):
    stage: str
    archive_existing: bool = False


class SetAlias(Body):
    version: Version


class SearchVersions(Body):
    filter: str | None = None
    order_by: list[str] = msgspec.field(default_factory=list)
    max_results: MaxResults = 100
    page_token: str | None = None


# -- datasets ---------------------------------------------------------------------------------


class LogInputs(Body):
    """Dataset versions a run read (each logged first if it is new) and logged models it took;
    at least one of the two lists is not empty."""

    datasets: Annotated[list[InputSpec], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )
    models: Annotated[list[ModelInput], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )


class LogOutputs(Body):
    """Dataset versions a run wrote (each logged first if it is new) and logged models it
    produced (MLflow 3's run outputs); at least one of the two lists is not empty."""

    datasets: Annotated[list[DatasetSpec], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )
    models: Annotated[list[ModelOutput], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )


# -- logged models ----------------------------------------------------------------------------


class CreateLoggedModel(Body):
    """A new PENDING logged model; with ``source_run_id`` the experiment defaults to the run's."""

    name: Label
    experiment_id: NonNegativeInt | None = None
    source_run_id: str | None = None
    model_type: Label | None = None
    flavor: Label | None = None
    metadata: dict[str, Any] | None = None
    tags: Tags | None = None
    params: Tags | None = None
    user_id: str | None = None


class FinalizeLoggedModel(Body):
    """READY once the files (with the MLmodel metadata file) are uploaded, or FAILED."""

    status: FinalStatus
    status_message: str | None = None
