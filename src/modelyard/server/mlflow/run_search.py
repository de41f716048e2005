"""MLflow's ``runs/search``: its filter grammar and order through our search parser, paged.

The filter goes to the same parser and compiler as our own API (``modelyard.search``), so
MLflow's grammar (``metrics.loss < 0.5 and tags.`my key` = 'x'``) works and so do our
extensions (OR, NOT, parentheses, IS NULL).
"""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.server.mlflow import _entities
from modelyard.server.mlflow._protocol import endpoint, parse, reply, store
from modelyard.server.mlflow.experiments import lifecycle_of
from modelyard.server.mlflow.run_io import inputs_and_outputs

# MLflow's defaults: 1,000 runs a page unless asked, at most 50,000.
DEFAULT_MAX_RESULTS = 1000


class SearchRuns(msgspec.Struct):
    experiment_ids: list[str] = []
    filter: str | None = None
    run_view_type: str | int | None = None
    max_results: int = DEFAULT_MAX_RESULTS
    order_by: list[str] = []
    page_token: str | None = None


async def search_runs(request: Request) -> Response:
    message = await parse(request, SearchRuns)
    page = await store(request).run_search.search_runs(
        message.experiment_ids,
        message.filter or None,
        message.order_by or None,
        lifecycle=lifecycle_of(message.run_view_type),
        max_results=message.max_results,
        page_token=message.page_token or None,
    )
    io = await inputs_and_outputs(store(request), [run.run_id for run in page.items])
    answer: dict[str, Any] = {"runs": [_entities.run(run, *io[run.run_id]) for run in page.items]}
    if page.next_page_token:
        answer["next_page_token"] = page.next_page_token
    return reply(answer)


routes = [
    endpoint("POST", "/runs/search", search_runs, Access.READ),
    endpoint("GET", "/runs/search", search_runs, Access.READ),
]
