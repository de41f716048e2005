"""The lineage page: dataset -> run -> model graph of a model version (upstream) or a dataset
version (downstream), laid out in columns by distance from the root and drawn as SVG."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth.access import Access, access
from modelyard.server.api._request import store
from modelyard.server.ui._render import page, render
from modelyard.server.ui._state import View, integer
from modelyard.store.lineage import check_depth
from modelyard.store.lineage_records import DEFAULT_DEPTH, LineageGraph, LineageNode

COLUMN, NODE_W, NODE_H, ROW, PAD = 250, 210, 46, 64, 16
KIND_LABEL = {"model_version": "model version", "run": "run", "dataset_version": "dataset"}


@dataclass
class Box:
    node: LineageNode
    x: float
    y: float
    href: str
    label: str
    detail: str


def node_link(node: LineageNode) -> str:
    if node.kind == "run" and node.run_id:
        return f"/ui/runs/{node.run_id}"
    if node.kind == "dataset_version" and node.digest:
        return "/ui/lineage?uri=" + quote(f"dataset:{node.name}@{node.digest}", safe="")
    if node.kind == "model_version" and node.version is not None:
        return "/ui/lineage?uri=" + quote(f"models:/{node.name}/{node.version}", safe="")
    return "#"


def layout(graph: LineageGraph) -> tuple[list[Box], list[tuple[str, str, str]], int, int]:
    """Boxes by column (distance from the root) and edge paths from source to target."""
    deepest = max((n.depth for n in graph.nodes), default=0)
    columns: dict[int, int] = {}
    boxes: dict[str, Box] = {}
    for node in sorted(graph.nodes, key=lambda n: (n.depth, n.kind, n.name, n.id)):
        column = deepest - node.depth if graph.direction == "upstream" else node.depth
        row = columns.get(column, 0)
        columns[column] = row + 1
        detail = KIND_LABEL[node.kind]
        if node.kind == "model_version":
            detail += f" {node.version}" + (f" ({', '.join(node.aliases)})" if node.aliases else "")
        elif node.kind == "run" and node.status:
            detail += f" · {node.status}"
        elif node.kind == "dataset_version" and node.digest:
            detail += f" @{node.digest[:10]}"
        boxes[node.id] = Box(
            node, PAD + column * COLUMN, PAD + row * ROW, node_link(node), node.name, detail
        )
    edges: list[tuple[str, str, str]] = []
    for edge in graph.edges:
        source, target = boxes.get(edge.source), boxes.get(edge.target)
        if source is None or target is None:
            continue
        x1, y1 = source.x + NODE_W, source.y + NODE_H / 2
        x2, y2 = target.x, target.y + NODE_H / 2
        if x2 <= x1:  # same column (a parent run): a loop out to the right and back
            x1, x2 = source.x + NODE_W, target.x + NODE_W
            mid = max(x1, x2) + 30
            path = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        else:
            mid = (x1 + x2) / 2
            path = f"M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} {mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"
        edges.append((path, edge.kind, edge.context or ""))
    width = PAD * 2 + (max(columns, default=0) + 1) * COLUMN
    height = PAD * 2 + max(columns.values(), default=1) * ROW
    return list(boxes.values()), edges, width, height


@access(Access.READ)
@page
async def lineage_page(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    uri = view.get("uri")
    depth = check_depth(integer(view, "depth") or DEFAULT_DEPTH)
    graph = await store(request).lineage.graph(uri, depth=depth) if uri else None
    boxes, edges, width, height = layout(graph) if graph else ([], [], 0, 0)
    return render(
        request,
        "lineage.html",
        title="Lineage",
        uri=uri,
        depth=depth,
        graph=graph,
        boxes=boxes,
        edges=edges,
        width=width,
        height=height,
        node_w=NODE_W,
        node_h=NODE_H,
        view=view,
    )


routes = [Route("/lineage", lineage_page)]
