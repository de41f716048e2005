"""Logged model search (MLflow 3's ``search_logged_models``) over the experiments of one workspace.

Filters name the attributes (``name``, ``model_id``, ``model_type``, ``status``, ``source_run_id``,
the timestamps), ``params.<key>`` and ``tags.<key>`` through our filter parser; deleted models are
never found. The order is the given attributes, then newest first (MLflow's default), with the
model id breaking ties so pages never overlap. Pages are offsets, bound to the search by the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import LiteralString

from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.search._fragment import Bind, Fragment, compose, join, raw
from modelyard.search.compiler import LoggedModelFilterCompiler, compile_logged_model_filter
from modelyard.search.fields import LOGGED_MODELS
from modelyard.search.parser import parse_filter
from modelyard.store._base import Pool, Repository
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID, check_experiment_id
from modelyard.store.logged_model_records import LoggedModel
from modelyard.store.logged_models import LoggedModels
from modelyard.store.pagination import Page

MAX_RESULTS = 1000
TIE_BREAK: LiteralString = "lm.created_at DESC, lm.model_id DESC"


def order_clause(order: Sequence[tuple[str, bool]]) -> Fragment:
    """``(attribute, ascending)`` pairs as ORDER BY keys; unknown attributes are refused."""
    keys: list[Fragment] = []
    for name, ascending in order:
        key = LOGGED_MODELS.attribute(name)
        if key is None or key not in LOGGED_MODELS.orderable:
            known = ", ".join(sorted(LOGGED_MODELS.orderable))
            raise InvalidInput(
                f"cannot order logged models by {name!r} (known: {known})", field="order_by"
            )
        direction: LiteralString = "ASC" if ascending else "DESC"
        keys.append(compose("{} " + direction, raw(LoggedModelFilterCompiler.columns[key])))
    return join(", ", [*keys, raw(TIE_BREAK)])


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
        order: Sequence[tuple[str, bool]] = (),
        *,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[LoggedModel]:
        experiments = [check_experiment_id(e) for e in experiment_ids]
        if not experiments:
            raise InvalidInput("experiment_ids must name at least one experiment")
        if isinstance(max_results, bool) or not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
        search = tokens.fingerprint("logged_models", self.workspace_id, experiments, filter, order)
        offset = 0
        if page_token is not None:
            offset = tokens.get_int(tokens.decode(page_token, search), "o")
        sql = compose(
            "SELECT lm.model_id FROM logged_model lm "
            "WHERE lm.workspace_id = {} AND lm.experiment_id = ANY({}) "
            "AND lm.lifecycle_stage = 'active' AND {} ORDER BY {} LIMIT {} OFFSET {}",
            Bind(self.workspace_id),
            Bind(experiments),
            compile_logged_model_filter(parse_filter(filter, LOGGED_MODELS)),
            order_clause(order),
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
