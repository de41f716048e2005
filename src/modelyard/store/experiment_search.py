"""Experiment search: MLflow's ``search_experiments`` filter, order and paging over our experiments.

The filter language is the one of runs (:mod:`modelyard.search`) over the experiment's attributes
(``name``, ``experiment_id``, ``creation_time``, ``last_update_time``) and its tags, so MLflow's
``name LIKE 'x%' AND tags.team = 'a'`` works and so do our extensions (OR, NOT, IS NULL).
"""

from __future__ import annotations

from typing import cast

from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.search.experiment_query import experiment_query
from modelyard.search.fields import EXPERIMENTS
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.sql import query
from modelyard.store._base import Pool, Repository
from modelyard.store.experiments import (
    DEFAULT_WORKSPACE_ID,
    LIFECYCLES,
    Experiment,
    experiment_from_row,
)
from modelyard.store.pagination import Page

MAX_RESULTS = 50_000
MAX_ORDER_TERMS = 10


class ExperimentSearch(Repository):
    """``search_experiments`` over the experiments of one workspace."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def search(
        self,
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        lifecycle: str = "active",
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """One page of matching experiments and the token of the next page (or None)."""
        if lifecycle not in LIFECYCLES:
            raise InvalidInput("lifecycle must be 'active', 'deleted' or 'all'", field="lifecycle")
        if isinstance(max_results, bool) or not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
        node = parse_filter(filter, EXPERIMENTS)
        terms = parse_order_by(order_by, EXPERIMENTS)
        if len(terms) > MAX_ORDER_TERMS:
            raise InvalidInput(f"at most {MAX_ORDER_TERMS} order-by items", field="order_by")
        search = tokens.fingerprint("experiments", filter, order_by, lifecycle)
        offset = 0
        if page_token:
            offset = tokens.get_int(tokens.decode(page_token, search), "o")
        sql = experiment_query(
            self.workspace_id,
            lifecycle,
            node,
            terms,
            max_results + 1,
            offset,
        )
        async with self.transaction() as conn:
            cur = await conn.execute(sql.sql, sql.params, prepare=False)
            ids = [cast(int, row[0]) for row in await cur.fetchall()]
            more = len(ids) > max_results
            ids = ids[:max_results]
            cur = await conn.execute(
                query("experiments.load_many"),
                {"experiment_ids": ids, "workspace_id": self.workspace_id},
            )
            by_id = {e.experiment_id: e for e in map(experiment_from_row, await cur.fetchall())}
        items = [by_id[i] for i in ids if i in by_id]
        token = tokens.encode(search, o=offset + max_results) if more else None
        return Page(items=items, next_page_token=token)
