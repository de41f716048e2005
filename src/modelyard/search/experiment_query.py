"""Builds the SQL of an experiment search: a filter and an attribute order, one page by offset.

Experiments are few (hundreds, rarely thousands), so offset paging costs nothing worth a keyset
scheme. Every order ends with ``experiment_id`` so it is total and offsets are stable. Without
an order, the newest experiments come first (MLflow's default: ``creation_time DESC``, then
``experiment_id``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from modelyard.search._fragment import Bind, Fragment, compose, join, raw
from modelyard.search.ast import Entity, Node, OrderTerm
from modelyard.search.compiler import ExperimentFilterCompiler

DEFAULT_ORDER = (
    OrderTerm(Entity.ATTRIBUTE, "creation_time", False),
    OrderTerm(Entity.ATTRIBUTE, "experiment_id", True),
)


def _lifecycle(lifecycle: str) -> Fragment:
    if lifecycle == "all":
        return raw("TRUE")
    return compose("e.lifecycle_stage = {}", Bind(lifecycle))


def _order(terms: Sequence[OrderTerm]) -> Fragment:
    items: list[Fragment] = []
    for term in terms or DEFAULT_ORDER:
        column: LiteralString = ExperimentFilterCompiler.columns[term.key]
        items.append(raw(column + (" ASC" if term.ascending else " DESC")))
    if not any(term.key == "experiment_id" for term in terms or DEFAULT_ORDER):
        items.append(raw("e.experiment_id ASC"))
    return join(", ", items)


def experiment_query(
    workspace_id: int,
    lifecycle: str,
    node: Node | None,
    terms: Sequence[OrderTerm],
    limit: int,
    offset: int,
) -> Fragment:
    """The ids of one page of matching experiments, in order."""
    conditions = [
        compose("e.workspace_id = {}", Bind(workspace_id)),
        _lifecycle(lifecycle),
        ExperimentFilterCompiler().compile(node),
    ]
    return compose(
        "SELECT e.experiment_id FROM experiment e WHERE {} ORDER BY {} LIMIT {} OFFSET {}",
        join(" AND ", conditions),
        _order(terms),
        Bind(limit),
        Bind(offset),
    )
