"""``modelyard lineage URI``: what led to a model version, or what came of a dataset version."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from modelyard.cli._common import client_for, echo_json, option, url_option
from modelyard.cli._output import json_option

Json = dict[str, Any]


@click.command("lineage")
@click.argument("uri")
@option(
    "--depth",
    type=click.IntRange(1, 100),
    default=10,
    help="Follow at most N runs along any path.",
)
@url_option
@json_option
@click.pass_context
def lineage_command(ctx: click.Context, uri: str, depth: int, url: str, as_json: bool) -> None:
    """Show the lineage of URI as a tree (or a graph of nodes and edges with --json).

    URI is models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest for everything
    upstream of a model version (its run, parent runs, the dataset versions they read and the
    runs that wrote those), or dataset:NAME@DIGEST for everything downstream of a dataset
    version (the runs that read it, transitively, and the model versions registered from them).
    """
    graph: Json = client_for(ctx, url).lineage(uri, depth=depth)
    if as_json:
        echo_json(graph)
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=10_000)  # piped: one line per node, no folding
    console.print(render_tree(graph))
    if graph["truncated"]:
        click.echo(f"(cut at depth {graph['depth']}; pass a larger --depth to see more)")


def render_tree(graph: Json) -> Tree:
    """The graph as a tree from its root; a node reached twice (a diamond) is shown once."""
    nodes = {node["id"]: node for node in graph["nodes"]}
    upstream = graph["direction"] == "upstream"
    children: dict[str, list[Json]] = {}
    for edge in graph["edges"]:
        parent = edge["target"] if upstream else edge["source"]
        children.setdefault(parent, []).append(edge)
    shown: set[str] = set()
    tree = Tree(_label(nodes[graph["root"]]))
    shown.add(graph["root"])
    pending = [(tree, graph["root"])]
    while pending:
        branch, node_id = pending.pop(0)  # breadth first: a node hangs at its shortest path
        for edge in sorted(children.get(node_id, []), key=lambda e: (e["kind"], e["source"])):
            child = edge["source"] if upstream else edge["target"]
            arrow = "<-" if upstream else "->"
            relation = edge["kind"] + (f" ({edge['context']})" if edge.get("context") else "")
            text = f"[dim]{escape(relation)} {arrow}[/dim] {_label(nodes[child])}"
            if child in shown:
                branch.add(text + " [dim](shown above)[/dim]")
                continue
            shown.add(child)
            pending.append((branch.add(text), child))
    return tree


def _label(node: Json) -> str:
    kind = node["kind"]
    if kind == "model_version":
        aliases = "".join(f" @{alias}" for alias in node.get("aliases") or [])
        return f"[bold]model {escape(node['name'])} v{node['version']}[/bold]{escape(aliases)}"
    if kind == "run":
        return (
            f"run {escape(node['name'])} [dim]{node['run_id']}[/dim] {node.get('status', '')}"
        ).rstrip()
    if kind == "logged_model":
        flavor = f" {escape(node['flavor'])}" if node.get("flavor") else ""
        return (
            f"logged model {escape(node['name'])}{flavor} [dim]{node['model_id']}[/dim] "
            f"{node.get('status', '')}"
        ).rstrip()
    rows = f" ({node['row_count']} rows)" if node.get("row_count") is not None else ""
    source = f" [dim]{escape(node['source'])}[/dim]" if node.get("source") else ""
    return f"dataset {escape(node['name'])}@{escape(node['digest'])}{rows}{source}"
