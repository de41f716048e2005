"""Run search: a filter and an order over the runs of some experiments, one page at a time.

The filter language lives in :mod:`modelyard.search`; this repository checks the inputs, runs the
SQL that :mod:`modelyard.search.run_query` builds, and issues page tokens: keyset tokens for the
default newest-first order, (segment, offset) tokens for any other order.

Search statements are never prepared (``prepare=False``): each is planned with its actual values,
so a LIKE prefix becomes an index range and the planner sees how selective a key/value pair is. A
generic plan of a prepared statement would know neither, and planning costs a fraction of a
millisecond.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from modelyard.errors import InvalidInput
from modelyard.search import page_token as tokens
from modelyard.search.ast import Node, OrderTerm
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.search.run_query import (
    LIFECYCLES,
    MAX_ORDER_TERMS,
    is_default_order,
    keyset_query,
    paged,
    segment_queries,
)
from modelyard.store._base import Conn, Repository
from modelyard.store.pagination import Page
from modelyard.store.run_data import Run, load_runs

MAX_RESULTS = 50_000  # MLflow's limit for search_runs


def check_experiment_ids(experiment_ids: Sequence[int | str]) -> list[int]:
    """Experiment ids as ints; MLflow clients send them as strings."""
    if isinstance(experiment_ids, str | int):
        raise InvalidInput("experiment_ids must be a list", field="experiment_ids")
    found: list[int] = []
    for value in experiment_ids:
        if isinstance(value, bool):
            raise InvalidInput("experiment ids must be integers", field="experiment_ids")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"experiment id {value!r} is not an integer", field="experiment_ids"
            ) from None
        if not 0 <= number < 2**63:
            raise InvalidInput(f"experiment id {value!r} is out of range", field="experiment_ids")
        found.append(number)
    return sorted(set(found))


def check_search_args(lifecycle: str, max_results: int, terms: Sequence[OrderTerm]) -> None:
    if lifecycle not in LIFECYCLES:
        raise InvalidInput(f"lifecycle must be one of {', '.join(LIFECYCLES)}", field="lifecycle")
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidInput("max_results must be an integer", field="max_results")
    if not 1 <= max_results <= MAX_RESULTS:
        raise InvalidInput(f"max_results must be from 1 to {MAX_RESULTS}", field="max_results")
    if len(terms) > MAX_ORDER_TERMS:
        raise InvalidInput(f"at most {MAX_ORDER_TERMS} order-by items", field="order_by")


class RunSearch(Repository):
    """``search_runs``: run ids in order, and the token of the next page."""

    async def search(
        self,
        experiment_ids: Sequence[int | str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        lifecycle: str = "active",
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[str], str | None]:
        """Run ids (32-char hex) of one page, and the token of the next page or None."""
        async with self.transaction(snapshot=True) as conn:
            ids, token = await self.search_in(
                conn,
                experiment_ids,
                filter,
                order_by,
                lifecycle=lifecycle,
                max_results=max_results,
                page_token=page_token,
            )
        return [run_id.hex for run_id in ids], token

    async def search_runs(
        self,
        experiment_ids: Sequence[int | str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        lifecycle: str = "active",
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        """As :meth:`search`, with the runs loaded (params, tags, latest metrics) in the same
        transaction, in two statements whatever the page size."""
        async with self.transaction(snapshot=True) as conn:
            ids, token = await self.search_in(
                conn,
                experiment_ids,
                filter,
                order_by,
                lifecycle=lifecycle,
                max_results=max_results,
                page_token=page_token,
            )
            runs = await load_runs(conn, ids)
        return Page(items=runs, next_page_token=token)

    async def search_in(
        self,
        conn: Conn,
        experiment_ids: Sequence[int | str],
        filter: str | None = None,
        order_by: list[str] | None = None,
        *,
        lifecycle: str = "active",
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[uuid.UUID], str | None]:
        """:meth:`search` on a connection the caller holds, so it can load the runs in the same
        transaction (e.g. with ``run_data.load_runs``)."""
        experiments = check_experiment_ids(experiment_ids)
        node = parse_filter(filter)
        terms = parse_order_by(order_by)
        check_search_args(lifecycle, max_results, terms)
        search = tokens.fingerprint(experiments, filter, order_by, lifecycle)
        if not experiments:
            return [], None
        if is_default_order(terms):
            return await _keyset_page(
                conn, experiments, lifecycle, node, max_results, search, page_token
            )
        return await _segment_page(
            conn, experiments, lifecycle, node, terms, max_results, search, page_token
        )


async def _keyset_page(
    conn: Conn,
    experiments: list[int],
    lifecycle: str,
    node: Node | None,
    limit: int,
    search: str,
    token: str | None,
) -> tuple[list[uuid.UUID], str | None]:
    after: tuple[datetime, uuid.UUID] | None = None
    if token is not None:
        position = tokens.decode(token, search)
        try:
            after = (
                datetime.fromisoformat(tokens.get_str(position, "t")),
                uuid.UUID(tokens.get_str(position, "id")),
            )
        except ValueError:
            raise tokens.invalid_token() from None
    query = keyset_query(experiments, lifecycle, node, after, limit + 1)
    cur = await conn.execute(query.sql, query.params, prepare=False)
    rows = await cur.fetchall()
    ids = [_as_uuid(row[0]) for row in rows[:limit]]
    if len(rows) <= limit:
        return ids, None
    last_start = rows[limit - 1][1]
    assert isinstance(last_start, datetime)
    return ids, tokens.encode(search, t=last_start.isoformat(), id=ids[-1].hex)


async def _segment_page(
    conn: Conn,
    experiments: list[int],
    lifecycle: str,
    node: Node | None,
    terms: list[OrderTerm],
    limit: int,
    search: str,
    token: str | None,
) -> tuple[list[uuid.UUID], str | None]:
    segments = segment_queries(experiments, lifecycle, node, terms)
    segment, offset = 0, 0
    if token is not None:
        position = tokens.decode(token, search)
        segment, offset = tokens.get_int(position, "s"), tokens.get_int(position, "o")
        if segment >= len(segments):
            raise tokens.invalid_token()
    # Later segments must see the same data as earlier ones, or a run whose metric is logged
    # between two statements could appear twice on one page: the callers' transactions are
    # snapshots (Repository.transaction(snapshot=True)).
    ids: list[uuid.UUID] = []
    while segment < len(segments):
        wanted = limit - len(ids)
        # One extra row says whether this segment goes on; with a full page it is just a probe.
        query = paged(segments[segment], wanted + 1, offset)
        cur = await conn.execute(query.sql, query.params, prepare=False)
        found = [_as_uuid(row[0]) for row in await cur.fetchall()]
        ids.extend(found[:wanted])
        if len(found) > wanted:
            return ids, tokens.encode(search, s=segment, o=offset + wanted)
        segment, offset = segment + 1, 0
    return ids, None


def _as_uuid(value: object) -> uuid.UUID:
    assert isinstance(value, uuid.UUID)
    return value
