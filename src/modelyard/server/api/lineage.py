"""``/lineage``: the graph upstream of a model version or downstream of a dataset version."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from modelyard.auth.access import Access, access
from modelyard.server.api._request import store
from modelyard.server.api._routing import ApiRoute, Query
from modelyard.server.responses import JSON
from modelyard.store.lineage_records import DEFAULT_DEPTH, MAX_DEPTH, LineageGraph
from modelyard.uris import URI_PATTERN

URI = Query(
    "uri",
    "Where the lineage starts: models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest "
    "(walks upstream: the runs, parent runs and dataset versions that led to it), or "
    "dataset:NAME@DIGEST (walks downstream: the runs that used it, transitively through the "
    "datasets they wrote, and the model versions registered from them).",
    required=True,
    rule={"pattern": URI_PATTERN},
)
DEPTH = Query(
    "depth",
    "The most runs to follow along any path; the answer says when the graph was cut short.",
    kind=int,
    default=DEFAULT_DEPTH,
    minimum=1,
    maximum=MAX_DEPTH,
)


@access(Access.READ)
async def get_lineage(request: Request) -> Response:
    uri = URI.parse(request)
    graph = await store(request).lineage.graph(uri, depth=DEPTH.parse(request))
    return JSON(graph)


routes = [
    ApiRoute(
        "GET",
        "/lineage",
        get_lineage,
        summary="Lineage of a model version (upstream) or a dataset version (downstream)",
        response=LineageGraph,
        query=(URI, DEPTH),
    ),
]
