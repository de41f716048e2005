"""The syntax tree of a search filter and of an order-by clause: small frozen dataclasses.

Every node remembers where it started in the filter text (``position``, 0-based) so a later
check — a LIKE on a metric, a string compared to a metric — can point at the offending spot. The
positions take no part in equality, so two filters that mean the same compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class Entity(StrEnum):
    """What a key names: a run column, a metric's latest value, a param, a tag, a dataset."""

    ATTRIBUTE = "attribute"
    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    # Reserved: MLflow's datasets.name / datasets.digest / datasets.context filters.
    DATASET = "dataset"


class Op(StrEnum):
    """Binary comparison operators; IN and IS NULL have their own nodes."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    NOT_LIKE = "NOT LIKE"
    NOT_ILIKE = "NOT ILIKE"


ORDERING_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
PATTERN_OPS = frozenset({Op.LIKE, Op.ILIKE, Op.NOT_LIKE, Op.NOT_ILIKE})


@dataclass(frozen=True)
class Number:
    """A numeric literal, kept as written so a param can be compared exactly as ``numeric``."""

    text: str

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.text)

    def __float__(self) -> float:
        return float(self.text)


Literal = str | Number


@dataclass(frozen=True)
class Comparison:
    """``entity.key op value``, e.g. ``metrics.loss < 0.5`` or ``tags.team LIKE 'vision%'``."""

    entity: Entity
    key: str
    op: Op
    value: Literal
    position: int = field(default=0, compare=False)
    value_position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class In:
    """``entity.key [NOT] IN (v1, v2, ...)``; the list is never empty."""

    entity: Entity
    key: str
    values: tuple[Literal, ...]
    negated: bool = False
    position: int = field(default=0, compare=False)
    value_position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class IsNull:
    """``entity.key IS [NOT] NULL``: the key is missing (or, for a column, NULL)."""

    entity: Entity
    key: str
    negated: bool = False
    position: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node = Comparison | In | IsNull | And | Or | Not


@dataclass(frozen=True)
class OrderTerm:
    """One order-by item: ``metrics.loss DESC``; ascending unless DESC is given."""

    entity: Entity
    key: str
    ascending: bool = True
    position: int = field(default=0, compare=False)
