"""Search with the filter language: ``POST /runs/search`` and ``POST /model-versions/search``.

Searches are POSTs because a filter, an order-by list and a page token do not fit a query string
comfortably. A filter that does not parse is a 400 ``INVALID_FILTER`` whose ``details.position``
points at the offending character.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access, access
from modelyard.limits import is_page_token
from modelyard.search import page_token
from modelyard.server.api import schemas as s
from modelyard.server.api._nonfinite import run_to_wire
from modelyard.server.api._request import store
from modelyard.server.api._routing import ApiRoute
from modelyard.server.responses import JSON, decode
from modelyard.store.pagination import Page
from modelyard.store.registry_records import ModelVersion
from modelyard.store.run_data import Run


def _check_token_form(token: str | None) -> None:
    """A token of the wrong form is refused even when the search has nothing to page through."""
    if token and not is_page_token(token):
        raise page_token.invalid_token()


@access(Access.READ)
async def search_runs(request: Request) -> Response:
    body = await decode(request, s.SearchRuns)
    _check_token_form(body.page_token)
    # The page of ids and the runs they name are read in one transaction (one snapshot).
    page = await store(request).run_search.search_runs(
        body.experiment_ids,
        body.filter,
        body.order_by,
        lifecycle=body.lifecycle,
        max_results=body.max_results,
        page_token=body.page_token,
    )
    return JSON(
        Page(items=[run_to_wire(run) for run in page.items], next_page_token=page.next_page_token)
    )


@access(Access.READ)
async def search_versions(request: Request) -> Response:
    body = await decode(request, s.SearchVersions)
    _check_token_form(body.page_token)
    # Versions deleted between the search and the load are left out, not an error.
    page = await store(request).model_version_search.search_versions(
        body.filter, body.order_by, max_results=body.max_results, page_token=body.page_token
    )
    return JSON(page)


routes = [
    ApiRoute(
        "POST",
        "/runs/search",
        search_runs,
        summary="Search runs of some experiments with a filter and an order",
        body=s.SearchRuns,
        response=Page[Run],
    ),
    ApiRoute(
        "POST",
        "/model-versions/search",
        search_versions,
        summary="Search model versions with a filter and an order",
        body=s.SearchVersions,
        response=Page[ModelVersion],
    ),
]
