"""Lineage graphs (nodes and edges) and the URIs that name where a lineage starts.

A graph is directed the way data flows: dataset version -> run that read it, run -> dataset
version it wrote, parent run -> child run, run -> logged model it produced, logged model -> run
that took it, run or logged model -> model version registered from it. Node ids are URIs:
``run:<32 hex>``, ``dataset:<name>@<digest>``, ``logged_model:m-<hex>``, ``models:/<name>/<n>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from modelyard.errors import InvalidInput
from modelyard.store.registry_records import check_alias, check_version

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


@dataclass(frozen=True)
class ModelVersionRef:
    """``models:/name/3``, ``models:/name@alias`` or ``models:/name/latest``."""

    name: str
    version: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class DatasetVersionRef:
    """``dataset:name@digest``."""

    name: str
    digest: str


def run_node_id(run_hex: str) -> str:
    return f"run:{run_hex}"


def dataset_node_id(name: str, digest: str) -> str:
    return f"dataset:{name}@{digest}"


def logged_model_node_id(model_id: str) -> str:
    return f"logged_model:{model_id}"


def version_node_id(name: str, version: int) -> str:
    return f"models:/{name}/{version}"


def parse_uri(uri: object) -> ModelVersionRef | DatasetVersionRef:
    """What a lineage URI names; anything else is InvalidInput saying which forms exist."""
    if not isinstance(uri, str) or not uri:
        raise _bad_uri(uri)
    if uri.startswith("models:/"):
        return _parse_model_uri(uri, uri[len("models:/") :])
    if uri.startswith("dataset:"):
        name, at, digest = uri[len("dataset:") :].rpartition("@")
        if not at or not name or not digest:
            raise _bad_uri(uri)
        return DatasetVersionRef(name, digest)
    raise _bad_uri(uri)


def _parse_model_uri(uri: str, rest: str) -> ModelVersionRef:
    head, slash, tail = rest.rpartition("/")
    if slash and head and tail == "latest":
        return ModelVersionRef(head)
    if slash and head and tail.isascii() and tail.isdigit():
        return ModelVersionRef(head, version=check_version(tail))
    name, at, alias = rest.rpartition("@")
    if at and name and alias:
        return ModelVersionRef(name, alias=check_alias(alias))
    raise _bad_uri(uri)


def _bad_uri(uri: object) -> InvalidInput:
    return InvalidInput(
        f"cannot read {uri!r} as a lineage URI: use models:/NAME/VERSION, models:/NAME@ALIAS, "
        "models:/NAME/latest or dataset:NAME@DIGEST",
        field="uri",
    )
