"""Records of the model registry (registered models, model versions) and their input checks.

Field names follow MLflow's registry entities (``creation_timestamp``, ``current_stage``...), so
the MLflow-compatible API can serialise them as they are; times are int milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from modelyard.errors import InvalidInput
from modelyard.limits import MAX_VERSION as MAX_VERSION  # re-exported with the registry checks
from modelyard.limits import check_alias as check_alias
from modelyard.limits import check_version as check_version
from modelyard.store import validation

# Legacy stages, keyed by lower case: MLflow accepts any capitalisation and stores this spelling.
STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
ALL_STAGES = ("None", "Staging", "Production", "Archived")
# Only these may archive the versions already in them (MLflow's "active" stages).
ACTIVE_STAGES = ("Staging", "Production")

MAX_SOURCE_LENGTH = 4096
MAX_RUN_LINK_LENGTH = 4096
MAX_USER_ID_LENGTH = 256


class ModelVersion(msgspec.Struct, kw_only=True):
    """One registered version of a model."""

    name: str
    version: int
    creation_timestamp: int
    last_updated_timestamp: int
    current_stage: str
    source: str
    run_id: str | None
    run_link: str | None
    description: str | None
    user_id: str | None
    status: str
    status_message: str | None
    tags: dict[str, str]
    aliases: list[str]
    # The logged model it was registered from (MLflow 3's model_id), when there is one.
    model_id: str | None = None


class RegisteredModel(msgspec.Struct, kw_only=True):
    """A registered model with its tags, aliases (alias -> version) and latest version per stage."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    description: str | None
    tags: dict[str, str]
    aliases: dict[str, int]
    latest_versions: list[ModelVersion]


def version_from_row(row: Sequence[Any]) -> ModelVersion:
    """A version from the column list every version query of registry.sql returns."""
    run_id = row[6]
    return ModelVersion(
        name=row[0],
        version=row[1],
        creation_timestamp=row[2],
        last_updated_timestamp=row[3],
        current_stage=row[4],
        source=row[5],
        run_id=run_id.hex if run_id is not None else None,
        run_link=row[7],
        description=row[8],
        user_id=row[9],
        status=row[10],
        status_message=row[11],
        tags=row[12],
        aliases=list(row[13]),
        model_id=row[16],
    )


def model_from_row(row: Sequence[Any], latest: list[ModelVersion]) -> RegisteredModel:
    """A model from the column list of the model queries (the first column is its model_id)."""
    return RegisteredModel(
        name=row[1],
        creation_timestamp=row[2],
        last_updated_timestamp=row[3],
        description=row[4],
        tags=row[5],
        aliases=row[6],
        latest_versions=latest,
    )


def _any_case(word: str) -> str:
    return "".join(f"[{ch.lower()}{ch.upper()}]" for ch in word)


# The stages in any capitalisation, as check_stage reads them (for the OpenAPI document).
STAGE_PATTERN = "^(?:" + "|".join(_any_case(stage) for stage in ALL_STAGES) + r")(?!\n)$"
ACTIVE_STAGE_PATTERN = "^(?:" + "|".join(_any_case(s) for s in ACTIVE_STAGES) + r")(?!\n)$"


def check_stage(stage: object) -> str:
    """A legacy stage in its canonical spelling; any capitalisation is accepted."""
    canonical = STAGES.get(stage.lower()) if isinstance(stage, str) else None
    if canonical is None:
        raise InvalidInput(
            f"invalid stage {stage!r}: must be one of {', '.join(ALL_STAGES)}", field="stage"
        )
    return canonical


def check_stages(stages: Sequence[str] | None) -> list[str]:
    """The stages to report latest versions for; all of them when none are given."""
    if not stages:
        return list(ALL_STAGES)
    if isinstance(stages, str):
        raise InvalidInput("stages must be a list of stage names", field="stages")
    return list(dict.fromkeys(check_stage(stage) for stage in stages))


def check_tag(key: object, value: object) -> tuple[str, str]:
    return (
        validation.check_key(key, "tag key"),
        validation.check_text(value, "tag value", validation.MAX_TAG_VALUE_LENGTH),
    )


def check_tags(tags: Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    """Tags given at creation, as parallel key and value lists for one ``unnest`` insert."""
    if tags is None:
        return [], []
    if not isinstance(tags, Mapping):
        raise InvalidInput("tags must be a mapping of key to value", field="tags")
    validation.check_batch_size(len(tags), validation.MAX_BATCH_TAGS, "tags")
    pairs = [check_tag(key, value) for key, value in tags.items()]
    return [key for key, _ in pairs], [value for _, value in pairs]


def check_description(description: object) -> str | None:
    return validation.check_optional_text(
        description, "description", validation.MAX_DESCRIPTION_LENGTH
    )


def check_source(source: object) -> str:
    text = validation.check_text(source, "source", MAX_SOURCE_LENGTH)
    if not text:
        raise InvalidInput("source must be a non-empty string", field="source")
    return text
