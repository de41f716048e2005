"""Builds the SQL of a run search: the default newest-first order, and any other order.

The default order (``start_time DESC, run_id``) reads ``run_experiment_start_idx`` in order and
pages by keyset: the next page starts after the last (start_time, run_id) seen, so page 1000 costs
what page 1 costs and concurrent inserts never shift a page.

Any other order is a list of *segments* read one after another, each a query with its own
ORDER BY, paged by offset. Ordering by a metric first gives up to three segments: the runs having
the metric (a join driven by ``metric_series_sort_idx`` in value order, so a LIMIT stops early),
for a descending order the runs whose latest value is NaN, and the runs without the metric. Runs
without the sort key thus come last in both directions, NaN just before them, as in MLflow; a
single ORDER BY with ``NULLS LAST`` could not use the index. Every order ends with the tie-breaker
``start_time DESC, run_id``, so the order is total and offsets are stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import LiteralString
from uuid import UUID

from modelyard.search._fragment import Bind, Fragment, compose, join, raw
from modelyard.search.ast import Entity, Node, OrderTerm
from modelyard.search.compiler import RunFilterCompiler

LIFECYCLES = ("active", "deleted", "all")
TIE_BREAK: LiteralString = "r.start_time DESC, r.run_id"
_SORT_ALIAS: LiteralString = "m0"


def is_default_order(terms: Sequence[OrderTerm]) -> bool:
    """True for no order or for ``start_time DESC`` alone, which the default order already is."""
    if not terms:
        return True
    return len(terms) == 1 and terms[0] == OrderTerm(Entity.ATTRIBUTE, "start_time", False)


def _lifecycle(lifecycle: str) -> Fragment:
    if lifecycle == "all":
        return raw("TRUE")
    return compose("r.lifecycle_stage = {}", Bind(lifecycle))


def _in_experiments(column: LiteralString, experiment_ids: Sequence[int]) -> Fragment:
    # One experiment compares with = so the planner can read the index in order.
    if len(experiment_ids) == 1:
        return compose(column + " = {}", Bind(experiment_ids[0]))
    return compose(column + " = ANY({})", Bind(list(experiment_ids)))


def keyset_query(
    experiment_ids: Sequence[int],
    lifecycle: str,
    node: Node | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> Fragment:
    """Runs newest first, after the (start_time, run_id) of the previous page's last run."""
    conditions = [
        _in_experiments("r.experiment_id", experiment_ids),
        _lifecycle(lifecycle),
        RunFilterCompiler().compile(node),
    ]
    if after is not None:
        started, run_id = after
        # start_time <= t bounds the index scan; the rest skips the rows already returned.
        conditions.append(
            compose(
                "r.start_time <= {} AND (r.start_time < {} OR r.run_id > {})",
                Bind(started),
                Bind(started),
                Bind(run_id),
            )
        )
    return compose(
        "SELECT r.run_id, r.start_time FROM run r WHERE {} ORDER BY " + TIE_BREAK + " LIMIT {}",
        join(" AND ", conditions),
        Bind(limit),
    )


class _OrderJoins:
    """LEFT JOINs bringing each order-by key's value next to the run, and the sort keys."""

    def __init__(self) -> None:
        self.joins: list[Fragment] = []
        self.keys: list[Fragment] = []

    def add(self, term: OrderTerm) -> None:
        direction: LiteralString = "ASC" if term.ascending else "DESC"
        if term.entity is Entity.ATTRIBUTE:
            column = raw(RunFilterCompiler.columns[term.key])
            self.keys.append(compose("{} " + direction + " NULLS LAST", column))
            return
        # The alias is ours (o0, o1...), never user text; the key is bound.
        table: LiteralString = {
            Entity.METRIC: "metric_series",
            Entity.PARAM: "run_param",
            Entity.TAG: "run_tag",
        }[term.entity]
        name = raw(_ALIASES[len(self.joins)])
        self.joins.append(
            compose(
                "LEFT JOIN " + table + " {} ON {}.run_id = r.run_id AND {}.key = {}",
                name,
                name,
                name,
                Bind(term.key),
            )
        )
        if term.entity is Entity.METRIC:
            value = compose("{}.last_value", name)
            if term.ascending:  # NaN sorts above every number: after them, before the missing
                self.keys.append(compose("{} ASC NULLS LAST", value))
            else:
                self.keys.append(
                    compose("{} IS NULL, {} = 'NaN'::float8, {} DESC", value, value, value)
                )
        else:
            self.keys.append(compose("{}.value " + direction + " NULLS LAST", name))

    def order_by(self) -> Fragment:
        return join(", ", [*self.keys, raw(TIE_BREAK)])

    def join_clause(self) -> Fragment:
        return join(" ", self.joins) if self.joins else raw("")


# Aliases for order-by joins: literal SQL so no dynamic identifier is ever built from input.
_ALIASES: tuple[LiteralString, ...] = ("o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7")
MAX_ORDER_TERMS = len(_ALIASES)


def segment_queries(
    experiment_ids: Sequence[int], lifecycle: str, node: Node | None, terms: Sequence[OrderTerm]
) -> list[Fragment]:
    """The queries whose concatenated results are the runs in the requested order."""
    first, rest = terms[0], terms[1:]
    order = _OrderJoins()
    for term in rest if first.entity is Entity.METRIC else terms:
        order.add(term)
    if first.entity is not Entity.METRIC:
        return [_generic(experiment_ids, lifecycle, node, order)]
    return _metric_first(experiment_ids, lifecycle, node, first, order)


def _generic(
    experiment_ids: Sequence[int], lifecycle: str, node: Node | None, order: _OrderJoins
) -> Fragment:
    return compose(
        "SELECT r.run_id FROM run r {} WHERE {} AND {} AND {} ORDER BY {}",
        order.join_clause(),
        _in_experiments("r.experiment_id", experiment_ids),
        _lifecycle(lifecycle),
        RunFilterCompiler().compile(node),
        order.order_by(),
    )


def _metric_first(
    experiment_ids: Sequence[int],
    lifecycle: str,
    node: Node | None,
    first: OrderTerm,
    order: _OrderJoins,
) -> list[Fragment]:
    known = RunFilterCompiler(known_metric=(first.key, _SORT_ALIAS))
    with_metric: LiteralString = (
        "SELECT r.run_id FROM metric_series m0 JOIN run r ON r.run_id = m0.run_id {} "
        "WHERE {} AND m0.key = {} AND "
    )
    scope = _in_experiments("m0.experiment_id", experiment_ids)
    common = (order.join_clause(), scope, Bind(first.key))
    segments: list[Fragment] = []
    if first.ascending:
        # NaN is the largest float8 value, so the ascending index order already puts it last.
        segments.append(
            compose(
                with_metric + "{} AND {} ORDER BY m0.last_value ASC, {}",
                *common,
                _lifecycle(lifecycle),
                known.compile(node),
                order.order_by(),
            )
        )
    else:
        segments.append(
            compose(
                with_metric + "m0.last_value < 'NaN'::float8 AND {} AND {} "
                "ORDER BY m0.last_value DESC, {}",
                *common,
                _lifecycle(lifecycle),
                known.compile(node),
                order.order_by(),
            )
        )
        segments.append(
            compose(
                with_metric + "m0.last_value = 'NaN'::float8 AND {} AND {} ORDER BY {}",
                *common,
                _lifecycle(lifecycle),
                known.compile(node),
                order.order_by(),
            )
        )
    missing = RunFilterCompiler(missing_metric=first.key)
    segments.append(
        compose(
            "SELECT r.run_id FROM run r {} WHERE {} AND {} AND NOT EXISTS "
            "(SELECT 1 FROM metric_series m0 WHERE m0.run_id = r.run_id AND m0.key = {}) "
            "AND {} ORDER BY {}",
            order.join_clause(),
            _in_experiments("r.experiment_id", experiment_ids),
            _lifecycle(lifecycle),
            Bind(first.key),
            missing.compile(node),
            order.order_by(),
        )
    )
    return segments


def paged(segment: Fragment, limit: int, offset: int) -> Fragment:
    """``segment`` with LIMIT and OFFSET."""
    return compose("{} LIMIT {} OFFSET {}", segment, Bind(limit), Bind(offset))
