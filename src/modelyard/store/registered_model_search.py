"""Registered model search: MLflow's ``search_registered_models`` filter and order, one workspace.

Filters name ``name``, the two timestamps and ``tags.<key>`` (MLflow's own grammar allows ``name``
and tags; the timestamps and the rest of our grammar, ``OR``, ``NOT``, ``IS NULL``, come along).
Order-by items name ``name``, ``creation_timestamp`` or ``last_updated_timestamp`` (``timestamp``
is MLflow's spelling of the last); the name breaks ties, so pages never overlap. Pages are
offsets, as for model versions: a registry holds thousands of models, not millions.
"""

from __future__ import annotations

from typing import LiteralString

from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.search._fragment import Bind, Fragment, compose, join, raw
from modelyard.search.ast import OrderTerm
from modelyard.search.compiler import RegisteredModelFilterCompiler, compile_registered_model_filter
from modelyard.search.fields import REGISTERED_MODELS
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.sql import query as query_named
from modelyard.store._base import Repository
from modelyard.store._registry_base import latest_by_model
from modelyard.store.pagination import Page
from modelyard.store.registry_records import RegisteredModel, model_from_row

# MLflow's SEARCH_REGISTERED_MODEL_MAX_RESULTS_THRESHOLD.
MAX_RESULTS = 1000
TIE_BREAK: LiteralString = "rm.name ASC"


def order_clause(terms: list[OrderTerm]) -> Fragment:
    keys: list[Fragment] = []
    for term in terms:
        direction: LiteralString = "ASC" if term.ascending else "DESC"
        column = raw(RegisteredModelFilterCompiler.columns[term.key])
        keys.append(compose("{} " + direction, column))
    return join(", ", [*keys, raw(TIE_BREAK)])


def search_query(
    workspace_id: int, filter: str | None, order_by: list[str] | None, limit: int, offset: int
) -> Fragment:
    """The SQL of one page of a registered model search (model ids in order)."""
    node = parse_filter(filter, REGISTERED_MODELS)
    terms = parse_order_by(order_by, REGISTERED_MODELS)
    return compose(
        "SELECT rm.model_id FROM registered_model rm "
        "WHERE rm.workspace_id = {} AND {} ORDER BY {} LIMIT {} OFFSET {}",
        Bind(workspace_id),
        compile_registered_model_filter(node),
        order_clause(terms),
        Bind(limit),
        Bind(offset),
    )


class RegisteredModelSearch(Repository):
    """``search_registered_models``: full model records (latest versions included), in order."""

    async def search(
        self,
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        workspace_id: int | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        if workspace_id is None:
            workspace_id = self.workspace_id
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise InvalidInput("max_results must be an integer", field="max_results")
        if not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
        search = tokens.fingerprint("registered_models", workspace_id, filter, order_by)
        offset = 0
        if page_token is not None:
            offset = tokens.get_int(tokens.decode(page_token, search), "o")
        sql = search_query(workspace_id, filter, order_by, max_results + 1, offset)
        async with self.transaction() as conn:
            cur = await conn.execute(sql.sql, sql.params, prepare=False)
            ids = [row[0] for row in await cur.fetchall()]
            page_ids = ids[:max_results]
            cur = await conn.execute(
                query_named("registry.models_by_ids"), {"model_ids": page_ids, "ws": workspace_id}
            )
            rows = await cur.fetchall()
            latest = await latest_by_model(conn, page_ids)
        items = [model_from_row(row, latest.get(row[0], [])) for row in rows]
        token = None
        if len(ids) > max_results:
            token = tokens.encode(search, o=offset + max_results)
        return Page(items=items, next_page_token=token)
