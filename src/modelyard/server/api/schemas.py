"""Request bodies of ``/api/v1`` and the error shape, as msgspec structs.

Responses are the store's own records (``Experiment``, ``Run``, ``ModelVersion``...), which are
msgspec structs too, so one type describes a record in the store, on the wire and in the OpenAPI
document. Request structs refuse unknown fields: a misspelt field is a 400, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from modelyard import limits
from modelyard.artifacts.owned import LOCATION_RULE, SOURCE_RULE, location_schema, source_schema
from modelyard.store._time import MAX_TIME_MS
from modelyard.store.dataset_records import MAX_DATASETS_PER_BATCH, DatasetSpec, InputSpec
from modelyard.store.logged_model_records import (
    FinalStatus,
    Label,
    ModelId,
    ModelInput,
    ModelOutput,
)
from modelyard.store.registry_records import ACTIVE_STAGE_PATTERN, STAGE_PATTERN
from modelyard.store.runs import TERMINAL_STATUSES

# Strings whose rules the store checks (modelyard.limits); the annotations state the same rules
# in the OpenAPI document and leave the checking, and its messages, to the store.
Name = Annotated[str, Meta(extra_json_schema=limits.NAME_SCHEMA)]
Key = Annotated[str, Meta(extra_json_schema=limits.KEY_SCHEMA)]
RunId = Annotated[str, Meta(extra_json_schema=limits.UUID_SCHEMA)]
PageToken = Annotated[str, Meta(extra_json_schema=limits.PAGE_TOKEN_SCHEMA)]
Description = Annotated[
    str, Meta(extra_json_schema=limits.text_schema(limits.MAX_DESCRIPTION_LENGTH))
]
TagText = Annotated[str, Meta(extra_json_schema=limits.text_schema(limits.MAX_TAG_VALUE_LENGTH))]
ParamText = Annotated[
    str, Meta(extra_json_schema=limits.text_schema(limits.MAX_PARAM_VALUE_LENGTH))
]
Tags = Annotated[
    dict[Key, TagText], Meta(extra_json_schema={"maxProperties": limits.MAX_BATCH_TAGS})
]
Params = Annotated[
    dict[Key, ParamText], Meta(extra_json_schema={"maxProperties": limits.MAX_BATCH_PARAMS})
]
# Filters and order-by items follow the search grammar (docs/api.md, "Search filters"), which
# no pattern can state: the document names it with a format per kind of object searched.
RunFilter = Annotated[str, Meta(extra_json_schema={"format": "runs-filter"})]
RunOrderBy = Annotated[str, Meta(min_length=1, extra_json_schema={"format": "runs-order-by"})]
VersionFilter = Annotated[str, Meta(extra_json_schema={"format": "model-versions-filter"})]
VersionOrderBy = Annotated[
    str, Meta(min_length=1, extra_json_schema={"format": "model-versions-order-by"})
]
NonNegativeInt = Annotated[int, Meta(ge=0, le=2**63 - 1)]
# A time the store can read back (it checks the bound and says so; the schema states it).
Millis = Annotated[int, Meta(ge=0, extra_json_schema={"maximum": MAX_TIME_MS})]
PositiveInt = Annotated[int, Meta(ge=1, le=2**63 - 1)]
Version = Annotated[int, Meta(ge=1, le=2**31 - 1)]
MaxResults = Annotated[int, Meta(ge=1, le=1000)]
Lifecycle = Literal["active", "deleted", "all"]


class Body(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies.

    ``json_schema_rules`` states, for the OpenAPI document, a rule across fields that the
    handler or store checks ("one of these is needed"); openapi.py merges it into the schema.
    """

    json_schema_rules: ClassVar[dict[str, Any] | None] = None
    # Fields whose rule depends on the server's artifact store: name -> the JSON schema for a
    # store URL (the document is built by the server that enforces it).
    store_fields: ClassVar[dict[str, Callable[[str], dict[str, Any]]]] = {}


def one_of_present(*alternatives: dict[str, Any]) -> dict[str, Any]:
    """A rule: the body satisfies at least one of ``alternatives`` (each a JSON schema)."""
    return {"anyOf": list(alternatives)}


def exactly_one_of(*alternatives: dict[str, Any]) -> dict[str, Any]:
    """A rule: the body satisfies exactly one of ``alternatives``."""
    return {"oneOf": list(alternatives)}


def non_empty_list(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"type": "array", "minItems": 1}}}


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
    store_fields = {"artifact_location": location_schema}

    name: Name
    description: Description | None = None
    artifact_location: Annotated[str, Meta(description=LOCATION_RULE)] | None = None
    tags: Tags | None = None


class UpdateExperiment(Body):
    """Fields to change; an absent field is left alone, ``"description": null`` clears it."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET


class TagValue(Body):
    value: TagText


# -- runs -------------------------------------------------------------------------------------


class CreateRun(Body):
    experiment_id: NonNegativeInt
    name: Name | None = None
    start_time: Millis | None = None
    user_id: str | None = None
    parent_run_id: RunId | None = None
    tags: Tags | None = None


class UpdateRun(Body):
    """Fields to change; ``status`` to a terminal state usually comes with ``end_time``.

    An ``end_time`` given with a non-terminal ``status`` is refused (400); given alone, it needs
    the stored status to be terminal and the stored start not to be later (else 409).
    """

    json_schema_rules = one_of_present(
        {"not": {"required": ["end_time"]}},
        {"not": {"required": ["status"]}},
        {"properties": {"status": {"enum": sorted(TERMINAL_STATUSES)}}},
    )

    name: Name | UnsetType = UNSET
    status: Literal["RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"] | UnsetType = UNSET
    end_time: Millis | UnsetType = UNSET


class LogParams(Body):
    params: Params


class SetTags(Body):
    tags: Tags


class SearchRuns(Body):
    experiment_ids: list[NonNegativeInt]
    filter: RunFilter | None = None
    order_by: list[RunOrderBy] = msgspec.field(default_factory=list)
    max_results: MaxResults = 100
    page_token: PageToken | None = None
    lifecycle: Lifecycle = "active"


# -- registry ---------------------------------------------------------------------------------


class CreateModel(Body):
    name: Name
    description: Description | None = None
    tags: Tags | None = None


class UpdateModel(Body):
    """``name`` renames the model; ``"description": null`` clears the description."""

    name: Name | UnsetType = UNSET
    description: Description | UnsetType | None = UNSET


class CreateVersion(Body):
    store_fields = {"source": source_schema}

    source: Annotated[str, Meta(description=SOURCE_RULE)]
    run_id: RunId | None = None
    model_id: ModelId | None = None
    run_link: str | None = None
    description: Description | None = None
    user_id: str | None = None
    tags: Tags | None = None


class UpdateVersion(Body):
    description: Description | None


class TransitionStage(Body):
    # archive_existing archives the versions in the stage moved to: only an active stage has any.
    json_schema_rules = one_of_present(
        {"properties": {"archive_existing": {"const": False}}},
        {"properties": {"stage": {"pattern": ACTIVE_STAGE_PATTERN}}},
    )

    stage: Annotated[str, Meta(extra_json_schema={"pattern": STAGE_PATTERN})]
    archive_existing: bool = False


class SetAlias(Body):
    version: Version


class SearchVersions(Body):
    filter: VersionFilter | None = None
    order_by: list[VersionOrderBy] = msgspec.field(default_factory=list)
    max_results: MaxResults = 100
    page_token: PageToken | None = None


# -- datasets ---------------------------------------------------------------------------------


class LogInputs(Body):
    """Dataset versions a run read (each logged first if it is new) and logged models it took;
    at least one of the two lists is not empty."""

    json_schema_rules = one_of_present(non_empty_list("datasets"), non_empty_list("models"))

    datasets: Annotated[list[InputSpec], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )
    models: Annotated[list[ModelInput], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )


class LogOutputs(Body):
    """Dataset versions a run wrote (each logged first if it is new) and logged models it
    produced (MLflow 3's run outputs); at least one of the two lists is not empty."""

    json_schema_rules = one_of_present(non_empty_list("datasets"), non_empty_list("models"))

    datasets: Annotated[list[DatasetSpec], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )
    models: Annotated[list[ModelOutput], Meta(max_length=MAX_DATASETS_PER_BATCH)] = msgspec.field(
        default_factory=list
    )


# -- logged models ----------------------------------------------------------------------------


class CreateLoggedModel(Body):
    """A new PENDING logged model; with ``source_run_id`` the experiment defaults to the run's."""

    json_schema_rules = one_of_present(
        {"required": ["experiment_id"], "properties": {"experiment_id": {"type": "integer"}}},
        {"required": ["source_run_id"], "properties": {"source_run_id": {"type": "string"}}},
    )

    name: Name
    experiment_id: NonNegativeInt | None = None
    source_run_id: RunId | None = None
    model_type: Label | None = None
    flavor: Label | None = None
    metadata: dict[str, Any] | None = None
    tags: Tags | None = None
    params: Params | None = None
    user_id: str | None = None


class FinalizeLoggedModel(Body):
    """READY once the files (with the MLmodel metadata file) are uploaded, or FAILED."""

    status: FinalStatus
    status_message: str | None = None
