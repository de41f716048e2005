"""Model version search: MLflow's ``search_model_versions`` filter and order over one workspace.

Filters name ``name``, ``version_number``, ``run_id``, ``source_path``, ``status``,
``current_stage``, ``user_id``, the two timestamps and ``tags.<key>``; order-by items name the
orderable attributes. The default order is ``name ASC, version_number DESC`` (MLflow's), which also
breaks ties of any other order. Pages are offsets: registries hold thousands of versions, not
millions, so the simplicity is worth more than keyset paging here.
"""

from __future__ import annotations

from typing import LiteralString

from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.search._fragment import Bind, Fragment, compose, join, raw
from modelyard.search.ast import OrderTerm
from modelyard.search.compiler import ModelVersionFilterCompiler, compile_model_version_filter
from modelyard.search.fields import MODEL_VERSIONS
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.sql import query as query_named
from modelyard.store._base import Repository
from modelyard.store.pagination import Page
from modelyard.store.registry_records import ModelVersion, version_from_row

MAX_RESULTS = 10_000
TIE_BREAK: LiteralString = "rm.name ASC, v.version DESC"


def order_clause(terms: list[OrderTerm]) -> Fragment:
    keys: list[Fragment] = []
    for term in terms:
        direction: LiteralString = "ASC" if term.ascending else "DESC"
        column = raw(ModelVersionFilterCompiler.columns[term.key])
        keys.append(compose("{} " + direction + " NULLS LAST", column))
    return join(", ", [*keys, raw(TIE_BREAK)])


def search_query(
    workspace_id: int, filter: str | None, order_by: list[str] | None, limit: int, offset: int
) -> Fragment:
    """The SQL of one page of a model version search."""
    node = parse_filter(filter, MODEL_VERSIONS)
    terms = parse_order_by(order_by, MODEL_VERSIONS)
    return compose(
        "SELECT rm.name, v.version FROM model_version v "
        "JOIN registered_model rm ON rm.model_id = v.model_id "
        "WHERE rm.workspace_id = {} AND {} ORDER BY {} LIMIT {} OFFSET {}",
        Bind(workspace_id),
        compile_model_version_filter(node),
        order_clause(terms),
        Bind(limit),
        Bind(offset),
    )


class ModelVersionSearch(Repository):
    """``search_model_versions``: (model name, version) pairs in order, and the next token."""

    async def search(
        self,
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        workspace_id: int | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[tuple[str, int]], str | None]:
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise InvalidInput("max_results must be an integer", field="max_results")
        if not 1 <= max_results <= MAX_RESULTS:
            raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
        if workspace_id is None:
            workspace_id = self.workspace_id
        search = tokens.fingerprint("model_versions", workspace_id, filter, order_by)
        offset = 0
        if page_token is not None:
            offset = tokens.get_int(tokens.decode(page_token, search), "o")
        query = search_query(workspace_id, filter, order_by, max_results + 1, offset)
        async with self.transaction() as conn:
            cur = await conn.execute(query.sql, query.params, prepare=False)
            rows = await cur.fetchall()
        found = [(str(name), int(str(version))) for name, version in rows[:max_results]]
        if len(rows) <= max_results:
            return found, None
        return found, tokens.encode(search, o=offset + max_results)

    async def search_versions(
        self,
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        workspace_id: int | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """As :meth:`search`, with the full version records (one more query, not one per row)."""
        if workspace_id is None:
            workspace_id = self.workspace_id
        keys, token = await self.search(
            filter,
            order_by,
            workspace_id=workspace_id,
            max_results=max_results,
            page_token=page_token,
        )
        if not keys:
            return Page(items=[], next_page_token=token)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query_named("registry.versions_by_keys"),
                {
                    "ws": workspace_id,
                    "names": [name for name, _ in keys],
                    "versions": [version for _, version in keys],
                },
            )
            rows = await cur.fetchall()
        return Page(items=[version_from_row(row) for row in rows], next_page_token=token)
