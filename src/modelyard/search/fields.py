"""What each searchable thing (runs, experiments, models, versions) lets a filter name.

A :class:`Target` lists the entities it has (runs: attributes, metrics, params, tags; model
versions: attributes and tags), its attributes with their kind and aliases (MLflow spells some
two ways), and which entities and attributes an order-by may use. :func:`check_predicate`
rejects, with the position of the culprit, what would otherwise be a confusing SQL error or a
silent no-match: a LIKE on a metric, a string compared to a metric, ``<`` with a quoted param
value, an unknown attribute.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from modelyard.errors import FilterSyntaxError
from modelyard.search.ast import (
    ORDERING_OPS,
    PATTERN_OPS,
    Comparison,
    Entity,
    In,
    IsNull,
    Number,
    Op,
)


class Kind(Enum):
    STRING = "a string"
    TIME = "a time in milliseconds since the epoch"
    ID = "an id"
    NUMBER = "a number"


@dataclass(frozen=True)
class Target:
    """The searchable fields of one kind of object."""

    name: str
    entities: frozenset[Entity]
    attributes: dict[str, Kind]
    aliases: dict[str, str]
    orderable: frozenset[str]
    # The entities an order-by item may name: only runs are ordered by metrics, params or tags.
    order_entities: frozenset[Entity] = frozenset({Entity.ATTRIBUTE})

    def attribute(self, key: str) -> str | None:
        """The canonical attribute name for ``key`` (aliases resolved), or None if unknown."""
        key = self.aliases.get(key, key)
        return key if key in self.attributes else None


RUNS = Target(
    name="runs",
    entities=frozenset({Entity.ATTRIBUTE, Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.DATASET}),
    attributes={
        "run_id": Kind.ID,
        "run_name": Kind.STRING,
        "status": Kind.STRING,
        "user_id": Kind.STRING,
        "artifact_uri": Kind.STRING,
        "lifecycle_stage": Kind.STRING,
        "start_time": Kind.TIME,
        "end_time": Kind.TIME,
        "parent_run_id": Kind.ID,
        "experiment_id": Kind.NUMBER,
    },
    aliases={"created": "start_time", "Created": "start_time", "run name": "run_name"},
    orderable=frozenset(
        {
            "run_id",
            "run_name",
            "status",
            "user_id",
            "artifact_uri",
            "start_time",
            "end_time",
            "experiment_id",
        }
    ),
    order_entities=frozenset({Entity.ATTRIBUTE, Entity.METRIC, Entity.PARAM, Entity.TAG}),
)

MODEL_VERSIONS = Target(
    name="model versions",
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    attributes={
        "name": Kind.STRING,
        "version_number": Kind.NUMBER,
        "run_id": Kind.ID,
        "source_path": Kind.STRING,
        "status": Kind.STRING,
        "current_stage": Kind.STRING,
        "user_id": Kind.STRING,
        "creation_timestamp": Kind.TIME,
        "last_updated_timestamp": Kind.TIME,
    },
    aliases={"version": "version_number", "source": "source_path", "stage": "current_stage"},
    orderable=frozenset(
        {
            "name",
            "version_number",
            "creation_timestamp",
            "last_updated_timestamp",
            "status",
            "current_stage",
        }
    ),
)

REGISTERED_MODELS = Target(
    name="registered models",
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    attributes={
        "name": Kind.STRING,
        "creation_timestamp": Kind.TIME,
        "last_updated_timestamp": Kind.TIME,
    },
    # MLflow orders registered models by "timestamp", its name for the last update.
    aliases={"timestamp": "last_updated_timestamp"},
    orderable=frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
)

LOGGED_MODELS = Target(
    name="logged models",
    entities=frozenset({Entity.ATTRIBUTE, Entity.METRIC, Entity.PARAM, Entity.TAG}),
    attributes={
        "name": Kind.STRING,
        "model_id": Kind.STRING,
        "model_type": Kind.STRING,
        "status": Kind.STRING,
        "source_run_id": Kind.ID,
        "creation_timestamp": Kind.TIME,
        "last_updated_timestamp": Kind.TIME,
    },
    aliases={"creation_time": "creation_timestamp", "last_updated_time": "last_updated_timestamp"},
    orderable=frozenset({"name", "model_id", "creation_timestamp", "last_updated_timestamp"}),
)

EXPERIMENTS = Target(
    name="experiments",
    entities=frozenset({Entity.ATTRIBUTE, Entity.TAG}),
    attributes={
        "name": Kind.STRING,
        "experiment_id": Kind.NUMBER,
        "creation_time": Kind.TIME,
        "last_update_time": Kind.TIME,
    },
    aliases={},
    orderable=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
)

_ENTITY_WORDS = {
    Entity.METRIC: "metrics",
    Entity.PARAM: "params",
    Entity.TAG: "tags",
    Entity.DATASET: "datasets",
}
# What MLflow's ``datasets.<field>`` may name: a run's input dataset's name and digest, and the
# context it was read in (``training``...). All three are strings.
DATASET_FIELDS = frozenset({"name", "digest", "context"})


def _fail(message: str, position: int, text: str) -> FilterSyntaxError:
    return FilterSyntaxError(f"{message} at position {position}", position=position, text=text)


def check_entity(target: Target, entity: Entity, key: str, position: int, text: str) -> str:
    """The canonical key of ``entity.key`` for ``target``; raises if the target lacks it."""
    if entity not in target.entities:
        raise _fail(f"{target.name} have no {_ENTITY_WORDS[entity]}", position, text)
    if entity is Entity.DATASET:
        if key not in DATASET_FIELDS:
            known = ", ".join(sorted(DATASET_FIELDS))
            raise _fail(f"unknown dataset field {key!r} (known: {known})", position, text)
        return key
    if entity is not Entity.ATTRIBUTE:
        return key
    canonical = target.attribute(key)
    if canonical is None:
        known = ", ".join(sorted(target.attributes))
        raise _fail(f"unknown attribute {key!r} (known: {known})", position, text)
    return canonical


def check_predicate(target: Target, node: Comparison | In | IsNull, text: str) -> None:
    """Raise :class:`FilterSyntaxError` if the operator or value does not fit the key's type."""
    if isinstance(node, IsNull):
        return
    kind = _kind_of(target, node.entity, node.key)
    what = _describe(node.entity, node.key)
    if isinstance(node, In):
        if node.entity is Entity.METRIC or kind is Kind.TIME:
            raise _fail(f"IN is not supported for {what}", node.position, text)
        numeric = [isinstance(v, Number) for v in node.values]
        if any(numeric) and not all(numeric):
            raise _fail("IN list mixes numbers and strings", node.value_position, text)
        _check_value_kind(kind, what, node.values[0], node.value_position, text)
        return
    op, value = node.op, node.value
    if op in PATTERN_OPS:
        if kind not in (None, Kind.STRING):
            raise _fail(f"{op} applies to strings, not to {what}", node.position, text)
        if isinstance(value, Number):
            raise _fail(f"{op} needs a quoted pattern", node.value_position, text)
        return
    if kind is Kind.ID and op not in (Op.EQ, Op.NE):
        raise _fail(f"'{op}' is not supported for {what}; use =, != or IN", node.position, text)
    if kind is Kind.STRING and op in ORDERING_OPS:
        raise _fail(
            f"'{op}' is not supported for {what}; use =, !=, LIKE, ILIKE or IN", node.position, text
        )
    if kind is None and op in ORDERING_OPS and isinstance(value, str):
        raise _fail(
            f"'{op}' needs a number: {what} compared with a string supports =, !=, LIKE, ILIKE "
            "and IN",
            node.value_position,
            text,
        )
    _check_value_kind(kind, what, value, node.value_position, text)


def _kind_of(target: Target, entity: Entity, key: str) -> Kind | None:
    """The attribute kind; None for params and tags (strings that may be compared as numbers)."""
    if entity is Entity.ATTRIBUTE:
        return target.attributes[key]
    if entity is Entity.METRIC:
        return Kind.NUMBER
    if entity is Entity.DATASET:
        return Kind.STRING
    return None


def _check_value_kind(kind: Kind | None, what: str, value: object, where: int, text: str) -> None:
    if kind is None:
        return
    wants_number = kind in (Kind.TIME, Kind.NUMBER)
    if wants_number and not isinstance(value, Number):
        raise _fail(f"{what} compares with numbers, not strings", where, text)
    if not wants_number and isinstance(value, Number):
        raise _fail(f"{what} compares with quoted strings", where, text)


def _describe(entity: Entity, key: str) -> str:
    if entity is Entity.ATTRIBUTE:
        return f"attribute {key!r}"
    if entity is Entity.DATASET:
        return f"datasets.{key}"
    return f"{entity.value} {key!r}"
