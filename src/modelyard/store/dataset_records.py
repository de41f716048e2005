"""Records of datasets and the datasets runs read and wrote, and the specs a logger sends.

The specs (:class:`DatasetSpec`, :class:`InputSpec`) are also the items of the REST bodies, so the
limits below are stated once: msgspec checks them when a body is decoded, the OpenAPI document
shows them, and :func:`check_spec` applies the same ones to callers of the store (the
MLflow-compatible API). ``schema`` and ``profile`` are JSON kept as raw text
(:class:`msgspec.Raw`): stored in ``json`` columns and given back byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from modelyard.errors import InvalidInput
from modelyard.limits import DIGEST_RE, NAME_RE, TEXT_PATTERN
from modelyard.store import validation
from modelyard.store.logged_model_records import ModelInput, ModelOutput

# MLflow's limits (mlflow/utils/validation.py) or wider, so whatever an MLflow client logs fits.
MAX_DATASET_NAME_LENGTH = 500
MAX_DIGEST_LENGTH = 256
MAX_SOURCE_TYPE_LENGTH = 256
MAX_SOURCE_LENGTH = 65535
MAX_SCHEMA_BYTES = 1024 * 1024
MAX_PROFILE_BYTES = 16 * 1024 * 1024
MAX_CONTEXT_LENGTH = 500
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
MAX_DATASETS_PER_BATCH = 1000
# MLflow records an input's context as this input tag; the store keeps it in its own column.
CONTEXT_TAG = "mlflow.data.context"

_NULL = msgspec.Raw(b"null")

DatasetName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_DATASET_NAME_LENGTH,
        description="Printable text; no control characters.",
        extra_json_schema={"pattern": NAME_RE.pattern},
    ),
]
Digest = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_DIGEST_LENGTH,
        description="The content digest that identifies the version within its dataset "
        "(the Python client sends a sha256 hex digest). Printable, no whitespace.",
        extra_json_schema={"pattern": DIGEST_RE.pattern},
    ),
]
# Any JSON value without NUL in its strings and keys (jsonb refuses \u0000), as
# modelyard.server.api.openapi's JsonValue component states it.
JSON_VALUE_REF = "#/components/schemas/JsonValue"
Json = Annotated[
    msgspec.Raw,
    Meta(
        description="Any JSON value, kept exactly as sent, with no NUL (\\u0000) in a string",
        extra_json_schema={"$ref": JSON_VALUE_REF},
    ),
]
RowCount = Annotated[int, Meta(ge=0, le=2**63 - 1)]
# check_input's rules (text without NUL, bounded), stated for the OpenAPI document.
Context = Annotated[str, Meta(min_length=1, max_length=MAX_CONTEXT_LENGTH, pattern=TEXT_PATTERN)]
InputTags = dict[
    Annotated[str, Meta(min_length=1, max_length=MAX_INPUT_TAG_KEY_LENGTH, pattern=TEXT_PATTERN)],
    Annotated[str, Meta(max_length=MAX_INPUT_TAG_VALUE_LENGTH, pattern=TEXT_PATTERN)],
]


class DatasetSpec(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A dataset version as a logger describes it; a known (name, digest) is the stored version."""

    name: DatasetName
    digest: Digest
    # The pattern only states the check_optional_text rule (no NUL) in the OpenAPI document.
    source_type: (
        Annotated[
            str,
            Meta(max_length=MAX_SOURCE_TYPE_LENGTH, extra_json_schema={"pattern": TEXT_PATTERN}),
        ]
        | None
    ) = None
    source: (
        Annotated[
            str, Meta(max_length=MAX_SOURCE_LENGTH, extra_json_schema={"pattern": TEXT_PATTERN})
        ]
        | None
    ) = None
    schema: Json = msgspec.field(default_factory=msgspec.Raw)
    row_count: RowCount | None = None
    profile: Json = msgspec.field(default_factory=msgspec.Raw)


class InputSpec(DatasetSpec, kw_only=True):
    """A dataset version a run read, in a context ('training', 'validation'...)."""

    context: Context | None = None
    tags: InputTags = msgspec.field(default_factory=dict)


class DatasetVersion(msgspec.Struct, kw_only=True):
    """One immutable version of a dataset; ``schema`` and ``profile`` are JSON (null if unset)."""

    name: str
    digest: str
    source_type: str | None
    source: str | None
    schema: Json
    row_count: int | None
    profile: Json
    creation_timestamp: int


class Dataset(msgspec.Struct, kw_only=True):
    """A dataset: a name whose versions are its contents over time."""

    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    version_count: int


class DatasetInput(msgspec.Struct, kw_only=True):
    """A dataset version a run read; ``tags`` are the input's other tags (MLflow's)."""

    dataset: DatasetVersion
    context: str | None
    tags: dict[str, str]


class DatasetOutput(msgspec.Struct, kw_only=True):
    """A dataset version a run wrote."""

    dataset: DatasetVersion


class RunInputs(msgspec.Struct, kw_only=True):
    """What a run read: dataset versions, and logged models (MLflow 3's model inputs)."""

    datasets: list[DatasetInput]
    models: list[ModelInput] = msgspec.field(default_factory=list)


class RunOutputs(msgspec.Struct, kw_only=True):
    """What a run wrote: dataset versions, and logged models with the step they came at."""

    datasets: list[DatasetOutput]
    models: list[ModelOutput] = msgspec.field(default_factory=list)


def raw_json(value: Any) -> msgspec.Raw:
    """A Python value as the raw JSON a spec carries (``None`` is JSON null)."""
    return msgspec.Raw(msgspec.json.encode(value))


def json_text(raw: msgspec.Raw, field: str, max_bytes: int) -> str | None:
    """The JSON text to store for a raw field: None for absent or null; refused when too big."""
    if len(raw) > max_bytes:
        raise InvalidInput(f"{field} is larger than {max_bytes} bytes", field=field)
    text = bytes(raw).decode("utf-8", errors="replace").strip()
    if text in ("", "null"):
        return None
    if "\\u0000" in text and _has_nul(msgspec.json.decode(text)):  # cheap test first
        raise InvalidInput(
            f"{field} must not hold a NUL character (\\u0000) in a string or key: "
            "PostgreSQL's jsonb cannot store one",
            field=field,
        )
    return text


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any("\x00" in key or _has_nul(item) for key, item in value.items())
    return False


def raw_or_null(text: str | None) -> msgspec.Raw:
    return _NULL if text is None else msgspec.Raw(text.encode())


def check_dataset_name(name: object) -> str:
    text = validation.check_text(name, "name", MAX_DATASET_NAME_LENGTH)
    if not NAME_RE.search(text):
        raise InvalidInput("dataset name must be printable text, not empty", field="name")
    return text


def check_digest(digest: object) -> str:
    text = validation.check_text(digest, "digest", MAX_DIGEST_LENGTH)
    if not DIGEST_RE.search(text):
        raise InvalidInput(
            "digest must be 1 or more printable characters, no spaces", field="digest"
        )
    return text


def check_spec(
    spec: DatasetSpec,
) -> tuple[str, str, str | None, str | None, str | None, str | None]:
    """A spec's values ready for the insert: name, digest, source type, source, schema, profile."""
    if not isinstance(spec, DatasetSpec):
        raise InvalidInput("each dataset must be a DatasetSpec", field="datasets")
    if spec.row_count is not None:
        if isinstance(spec.row_count, bool) or not isinstance(spec.row_count, int):
            raise InvalidInput("row_count must be an integer", field="row_count")
        if not 0 <= spec.row_count <= validation.MAX_INT64:
            raise InvalidInput("row_count must be 0 or more", field="row_count")
    return (
        check_dataset_name(spec.name),
        check_digest(spec.digest),
        validation.check_optional_text(spec.source_type, "source_type", MAX_SOURCE_TYPE_LENGTH),
        validation.check_optional_text(spec.source, "source", MAX_SOURCE_LENGTH),
        json_text(spec.schema, "schema", MAX_SCHEMA_BYTES),
        json_text(spec.profile, "profile", MAX_PROFILE_BYTES),
    )


def check_input(spec: InputSpec) -> tuple[str, dict[str, str]]:
    """An input's context ('' for none) and its other tags; the MLflow context tag is folded in."""
    tags: dict[str, str] = {}
    raw_tags: Mapping[str, str] = spec.tags or {}
    if not isinstance(raw_tags, Mapping):
        raise InvalidInput("input tags must be a mapping of key to value", field="tags")
    for key, value in raw_tags.items():
        key = validation.check_text(key, "input tag key", MAX_INPUT_TAG_KEY_LENGTH)
        if not key:
            raise InvalidInput("input tag keys must not be empty", field="tags")
        tags[key] = validation.check_text(value, f"input tag {key!r}", MAX_INPUT_TAG_VALUE_LENGTH)
    tagged = tags.pop(CONTEXT_TAG, None)
    context = validation.check_optional_text(spec.context, "context", MAX_CONTEXT_LENGTH)
    if context is not None and tagged is not None and context != tagged:
        raise InvalidInput(
            f"context {context!r} contradicts the tag {CONTEXT_TAG}={tagged!r}", field="context"
        )
    return context or tagged or "", tags


def version_from_row(row: Mapping[str, Any]) -> DatasetVersion:
    """A version from the columns every version query of datasets.sql returns."""
    return DatasetVersion(
        name=row["name"],
        digest=row["digest"],
        source_type=row["source_type"],
        source=row["source"],
        schema=raw_or_null(row["schema"]),
        row_count=row["row_count"],
        profile=raw_or_null(row["profile"]),
        creation_timestamp=row["created_ms"],
    )
