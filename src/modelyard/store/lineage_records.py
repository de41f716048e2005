"""Lineage graphs (nodes and edges) and the URIs that name where a lineage starts.

A graph is directed the way data flows: dataset version -> run that read it, run -> dataset
version it wrote, parent run -> child run, run -> logged model it produced, logged model -> run
that took it, run or logged model -> model version registered from it. Node ids are URIs:
``run:<32 hex>``, ``dataset:<name>@<digest>``, ``logged_model:m-<hex>``, ``models:/<name>/<n>``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# Re-exported: lineage code has always read URIs through this module.
from modelyard.uris import DatasetVersionRef as DatasetVersionRef
from modelyard.uris import ModelVersionRef as ModelVersionRef
from modelyard.uris import parse_uri as parse_uri

DEFAULT_DEPTH = 10
MAX_DEPTH = 100

NodeKind = Literal["model_version", "logged_model", "run", "dataset_version"]
EdgeKind = Literal["input", "output", "parent", "logged", "registered"]
Direction = Literal["upstream", "downstream"]


class LineageNode(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One object of a lineage graph; fields beyond id, kind, depth and name depend on the kind."""

    id: str
    kind: NodeKind
    depth: Annotated[int, Meta(description="Edges between the root and this node (root: 0).")]
    name: str
    run_id: str | None = None
    experiment_id: int | None = None
    status: str | None = None
    digest: str | None = None
    source: str | None = None
    row_count: int | None = None
    version: int | None = None
    aliases: list[str] | None = None
    model_id: str | None = None
    flavor: str | None = None


class LineageEdge(msgspec.Struct, kw_only=True, omit_defaults=True):
    """``source`` -> ``target`` in the direction data flows; ``context`` for an input."""

    source: str
    target: str
    kind: EdgeKind
    context: str | None = None


class LineageGraph(msgspec.Struct, kw_only=True):
    """Everything upstream of a model version or downstream of a dataset version."""

    root: str
    direction: Direction
    depth: Annotated[int, Meta(description="The most runs followed along any path.")]
    truncated: Annotated[
        bool, Meta(description="True when runs lie beyond `depth`: ask again with a larger one.")
    ]
    nodes: list[LineageNode]
    edges: list[LineageEdge]


def run_node_id(run_hex: str) -> str:
    return f"run:{run_hex}"


def dataset_node_id(name: str, digest: str) -> str:
    return f"dataset:{name}@{digest}"


def logged_model_node_id(model_id: str) -> str:
    return f"logged_model:{model_id}"


def version_node_id(name: str, version: int) -> str:
    return f"models:/{name}/{version}"
