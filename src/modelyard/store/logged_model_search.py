"""Logged model search (MLflow 3's ``search_logged_models``) over the experiments of one workspace.

Filters name the attributes (``name``, ``model_id``, ``model_type``, ``status``, ``source_run_id``,
the timestamps), ``params.<key>``, ``tags.<key>`` and ``metrics.<key>`` through our filter parser;
deleted models are never found. As in MLflow, a metric condition holds when any of the model's
points of that metric meets it, on one of the ``datasets`` when those are given; ``datasets``
without a metric condition keeps the models with a point on one of them. The order is the given
attributes or metrics (a metric by its latest point, on the order's dataset if it names one;
models without the metric last), then newest first (MLflow's default), with the model id breaking
ties so pages never overlap. Pages are offsets, bound to the search by the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import LiteralString

from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.search._fragment import TRUE, Bind, Fragment, compose, join, raw
from modelyard.search.compiler import (
    LoggedModelFilterCompiler,
    compile_logged_model_filter,
    mentions_metric,
)
from modelyard.search.fields import LOGGED_MODELS
from modelyard.search.parser import parse_filter
from modelyard.store._base import Pool, Repository
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID, check_experiment_id
from modelyard.store.logged_model_records import LoggedModel
from modelyard.store.logged_models import LoggedModels
from modelyard.store.pagination import Page

MAX_RESULTS = 1000
TIE_BREAK: LiteralString = "lm.created_at DESC, lm.model_id DESC"
METRIC_PREFIX = "metrics."
# One lateral join per metric ordered by, each under its own alias.
_METRIC_ALIASES: tuple[LiteralString, ...] = ("o0", "o1", "o2", "o3", "o4", "o5", "o6", "o7")
_LATEST_POINT: LiteralString = (
    "LEFT JOIN LATERAL (SELECT m.value FROM logged_model_metric m "
    "WHERE m.model_id = lm.model_id AND m.key = {} AND {} "
    "ORDER BY m.timestamp_ms DESC, m.step DESC, m.run_id LIMIT 1) "
)


@dataclass(frozen=True)
class ModelOrder:
    """An order-by item: an attribute, or ``metrics.<key>`` (optionally on one dataset)."""

    field: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True)
class DatasetFilter:
    """A dataset the searched models' metrics must be on (any digest without ``digest``)."""

    name: str
    digest: str | None = None


def _dataset_match(name: str | None, digest: str | None) -> Fragment:
    """The condition on a ``logged_model_metric m`` row for one dataset (TRUE for none)."""
    parts = []
    if name is not None:
        parts.append(compose("m.dataset_name = {}", Bind(name)))
    if digest is not None:
        parts.append(compose("m.dataset_digest = {}", Bind(digest)))
    return join(" AND ", parts) if parts else TRUE


def datasets_condition(datasets: Sequence[DatasetFilter]) -> Fragment | None:
    """The condition on ``m`` for any of ``datasets``, or None when there are none."""
    if not datasets:
        return None
    either = [compose("({})", _dataset_match(d.name, d.digest)) for d in datasets]
    return compose("({})", join(" OR ", either))


def order_clause(order: Sequence[ModelOrder]) -> tuple[Fragment, Fragment]:
    """The lateral joins and the ORDER BY keys of ``order``; unknown attributes are refused."""
    joins: list[Fragment] = []
    keys: list[Fragment] = []
    for item in order:
        direction: LiteralString = "ASC" if item.ascending else "DESC"
        if item.field.startswith(METRIC_PREFIX) and len(item.field) > len(METRIC_PREFIX):
            if len(joins) == len(_METRIC_ALIASES):
                raise InvalidInput(
                    f"at most {len(_METRIC_ALIASES)} metrics in order_by", field="order_by"
                )
            alias = _METRIC_ALIASES[len(joins)]
            on_dataset = _dataset_match(item.dataset_name, item.dataset_digest)
            key = Bind(item.field[len(METRIC_PREFIX) :])
            joins.append(compose(_LATEST_POINT + alias + " ON true", key, on_dataset))
            keys.append(raw(alias + ".value " + direction + " NULLS LAST"))
            continue
        name = LOGGED_MODELS.attribute(item.field)
        if name is None or name not in LOGGED_MODELS.orderable:
            known = ", ".join(sorted(LOGGED_MODELS.orderable))
            raise InvalidInput(
                f"cannot order logged models by {item.field!r} (known: {known}, "
                "metrics.<key>)",
                field="order_by",
            )
        keys.append(compose("{} " + direction, raw(LoggedModelFilterCompiler.columns[name])))
    return join(" ", joins), join(", ", [*keys, raw(TIE_BREAK)])


class LoggedModelSearch(Repository):
    """Pages of logged models matching a filter, in order."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id
        self._models = LoggedModels(pool, workspace_id=workspace_id)

    async def search(
        self,
        experiment_ids: Sequence[int | str],
        filter: str | None = None,
        order: Sequence[ModelOrder] = (),
        *,
        datasets: Sequence[DatasetFilter] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        experiments = [check_experiment_id(e) for e in experiment_ids]
        if not experiments:
            raise InvalidInput("experiment_ids must name at least one experiment")
        if isinstance(max_results, bool) or not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
        search = tokens.fingerprint(
            "logged_models",
            self.workspace_id,
            experiments,
            filter,
            [(o.field, o.ascending, o.dataset_name, o.dataset_digest) for o in order],
            [(d.name, d.digest) for d in datasets],
        )
        offset = 0
        if page_token is not None:
            offset = tokens.get_int(tokens.decode(page_token, search), "o")
        joins, keys = order_clause(order)
        on_datasets = datasets_condition(datasets)
        tree = parse_filter(filter, LOGGED_MODELS)
        condition = compile_logged_model_filter(tree, on_datasets)
        if on_datasets is not None and not mentions_metric(tree):
            condition = compose(
                "{} AND EXISTS (SELECT 1 FROM logged_model_metric m "
                "WHERE m.model_id = lm.model_id AND {})",
                condition,
                on_datasets,
            )
        sql = compose(
            "SELECT lm.model_id FROM logged_model lm {} "
            "WHERE lm.workspace_id = {} AND lm.experiment_id = ANY({}) "
            "AND lm.lifecycle_stage = 'active' AND {} ORDER BY {} LIMIT {} OFFSET {}",
            joins,
            Bind(self.workspace_id),
            Bind(experiments),
            condition,
            keys,
            Bind(max_results + 1),
            Bind(offset),
        )
        async with self.read() as conn:
            cur = await conn.execute(sql.sql, sql.params, prepare=False)
            ids = [str(row[0]) for row in await cur.fetchall()]
        items = await self._models.get_many(ids[:max_results])
        token = None
        if len(ids) > max_results:
            token = tokens.encode(search, o=offset + max_results)
        return Page(items=items, next_page_token=token)
