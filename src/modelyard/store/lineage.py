"""Lineage: what led to a model version (upstream) and what followed from a dataset version
(downstream), walked with recursive SQL over runs (queries/lineage.sql explains the walk).

One read-only REPEATABLE READ transaction per graph, so the walk and the reads that dress it see
one snapshot even while runs keep logging.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from psycopg.rows import dict_row

from modelyard.errors import InvalidInput, NotFound
from modelyard.sql import query
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store._registry_base import model_not_found, version_not_found
from modelyard.store.aliases import alias_not_found
from modelyard.store.datasets import dataset_not_found
from modelyard.store.datasets import version_not_found as dataset_version_not_found
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID
from modelyard.store.lineage_records import (
    DEFAULT_DEPTH,
    MAX_DEPTH,
    DatasetVersionRef,
    Direction,
    EdgeKind,
    LineageEdge,
    LineageGraph,
    LineageNode,
    ModelVersionRef,
    dataset_node_id,
    logged_model_node_id,
    parse_uri,
    run_node_id,
    version_node_id,
)


def check_depth(depth: object) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be an integer from 1 to {MAX_DEPTH}", field="depth")
    return depth


class Lineage(Repository):
    """Lineage graphs of one workspace's model versions and dataset versions."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def graph(self, uri: str, *, depth: int = DEFAULT_DEPTH) -> LineageGraph:
        """Upstream of ``models:/...``, downstream of ``dataset:NAME@DIGEST``; ``depth`` runs."""
        ref = parse_uri(uri)
        depth = check_depth(depth)
        # The walk and the reads around it see one snapshot, and nothing here writes.
        async with self.transaction(snapshot=True) as conn:
            if isinstance(ref, ModelVersionRef):
                return await self._upstream(conn, ref, depth)
            return await self._downstream(conn, ref, depth)

    async def _upstream(self, conn: Conn, ref: ModelVersionRef, depth: int) -> LineageGraph:
        version = await self._model_version(conn, ref)
        graph = _Graph(version_node_id(version["name"], version["version"]), "upstream")
        graph.add_version(version)
        start = {version["run_id"]} - {None}
        root_model = version["logged_model_id"]
        if root_model is not None:
            producers = await _rows(conn, "lineage.producers", {"model_id": root_model})
            start |= {row["run_id"] for row in producers}
        runs, truncated = await self._walk(conn, "lineage.upstream_runs", sorted(start), depth)
        await self._dress_runs(conn, graph, runs)
        edges = await _rows(conn, "lineage.upstream_dataset_edges", {"run_ids": list(runs)})
        await self._dress_datasets(conn, graph, edges)
        model_edges = await _rows(
            conn,
            "lineage.upstream_model_edges",
            {"run_ids": list(runs), "root_model": root_model},
        )
        await self._dress_models(
            conn, graph, model_edges, always=[root_model] if root_model else []
        )
        return graph.finish(depth, truncated)

    async def _downstream(self, conn: Conn, ref: DatasetVersionRef, depth: int) -> LineageGraph:
        args = {"ws": self.workspace_id, "name": ref.name, "digest": ref.digest}
        found = await _rows(conn, "lineage.dataset_version_id", args)
        if not found:
            if not await _rows(conn, "datasets.get_dataset", args):
                raise dataset_not_found(ref.name)
            raise dataset_version_not_found(ref.name, ref.digest)
        root_id = cast(int, found[0]["dataset_version_id"])
        graph = _Graph(dataset_node_id(ref.name, ref.digest), "downstream")
        readers = await _rows(conn, "lineage.readers", {"dataset_version_id": root_id})
        start = [row["run_id"] for row in readers]
        runs, truncated = await self._walk(conn, "lineage.downstream_runs", start, depth)
        await self._dress_runs(conn, graph, runs)
        edges = await _rows(
            conn, "lineage.downstream_dataset_edges", {"run_ids": list(runs), "root": root_id}
        )
        await self._dress_datasets(conn, graph, edges, always=[root_id])
        model_edges = await _rows(conn, "lineage.downstream_model_edges", {"run_ids": list(runs)})
        models = await self._dress_models(conn, graph, model_edges)
        versions = await _rows(
            conn,
            "lineage.versions_of_runs",
            {"run_ids": list(runs), "model_ids": models, "ws": self.workspace_id},
        )
        for version in versions:
            graph.add_version(version)
        return graph.finish(depth, truncated)

    async def _model_version(self, conn: Conn, ref: ModelVersionRef) -> dict[str, Any]:
        args = {"ws": self.workspace_id, "name": ref.name}
        if ref.version is not None:
            rows = await _rows(conn, "lineage.version_by_number", {**args, "version": ref.version})
        elif ref.alias is not None:
            rows = await _rows(conn, "lineage.version_by_alias", {**args, "alias": ref.alias})
        else:
            rows = await _rows(conn, "lineage.latest_version", args)
        if rows:
            return rows[0]
        if not await _rows(conn, "registry.model_id", args):
            raise model_not_found(ref.name)
        if ref.version is not None:
            raise version_not_found(ref.name, ref.version)
        if ref.alias is not None:
            raise alias_not_found(ref.name, ref.alias)
        raise NotFound(f"registered model {ref.name!r} has no versions", name=ref.name)

    async def _walk(
        self, conn: Conn, name: str, start: Sequence[uuid.UUID], depth: int
    ) -> tuple[dict[uuid.UUID, int], bool]:
        """Runs reached within ``depth`` (id -> depth), and whether any lie beyond it."""
        if not start:
            return {}, False
        rows = await _rows(conn, name, {"start": list(start), "max_depth": depth + 1})
        reached = {row["run_id"]: row["depth"] for row in rows if row["depth"] <= depth}
        return reached, len(reached) < len(rows)

    async def _dress_runs(self, conn: Conn, graph: _Graph, runs: Mapping[uuid.UUID, int]) -> None:
        rows = await _rows(conn, "lineage.runs", {"run_ids": list(runs)})
        for row in rows:
            graph.add_run(row)
        for row in rows:
            parent = row["parent_run_id"]
            if parent is not None and parent in runs:
                graph.edge(run_node_id(parent.hex), run_node_id(row["run_id"].hex), "parent")

    async def _dress_datasets(
        self,
        conn: Conn,
        graph: _Graph,
        edges: Sequence[dict[str, Any]],
        *,
        always: Iterable[int] = (),
    ) -> None:
        ids = {*always, *(row["dataset_version_id"] for row in edges)}
        rows = await _rows(conn, "lineage.dataset_versions", {"ids": sorted(ids)})
        node_of = {row["dataset_version_id"]: graph.add_dataset(row) for row in rows}
        for row in edges:
            run = run_node_id(row["run_id"].hex)
            dataset = node_of[row["dataset_version_id"]]
            if row["kind"] == "input":
                graph.edge(dataset, run, "input", row["context"] or None)
            else:
                graph.edge(run, dataset, "output")

    async def _dress_models(
        self,
        conn: Conn,
        graph: _Graph,
        edges: Sequence[dict[str, Any]],
        *,
        always: Iterable[str] = (),
    ) -> list[str]:
        """Add the logged models of ``edges`` (and ``always``) with their edges; their ids."""
        ids = sorted({*always, *(row["model_id"] for row in edges)})
        for row in await _rows(conn, "lineage.logged_models", {"ids": ids}):
            graph.add_logged_model(row)
        for row in edges:
            run, model = run_node_id(row["run_id"].hex), logged_model_node_id(row["model_id"])
            if row["kind"] == "input":
                graph.edge(model, run, "input")
            else:
                graph.edge(run, model, "logged")
        return ids


class _Graph:
    """Nodes and edges collected for one answer; depths are assigned at the end by a walk."""

    def __init__(self, root: str, direction: Direction) -> None:
        self.root = root
        self.direction: Direction = direction
        self.nodes: dict[str, LineageNode] = {}
        self.edges: dict[tuple[str, str, str, str | None], LineageEdge] = {}

    def add_run(self, row: Mapping[str, Any]) -> str:
        run_hex = row["run_id"].hex
        node_id = run_node_id(run_hex)
        self.nodes[node_id] = LineageNode(
            id=node_id,
            kind="run",
            depth=0,
            name=row["name"],
            run_id=run_hex,
            experiment_id=row["experiment_id"],
            status=row["status"],
        )
        return node_id

    def add_dataset(self, row: Mapping[str, Any]) -> str:
        node_id = dataset_node_id(row["name"], row["digest"])
        self.nodes[node_id] = LineageNode(
            id=node_id,
            kind="dataset_version",
            depth=0,
            name=row["name"],
            digest=row["digest"],
            source=row["source"],
            row_count=row["row_count"],
        )
        return node_id

    def add_logged_model(self, row: Mapping[str, Any]) -> str:
        node_id = logged_model_node_id(row["model_id"])
        run_id = row["source_run_id"]
        self.nodes[node_id] = LineageNode(
            id=node_id,
            kind="logged_model",
            depth=0,
            name=row["name"],
            model_id=row["model_id"],
            status=row["status"],
            flavor=row["flavor"],
            run_id=run_id.hex if run_id is not None else None,
        )
        return node_id

    def add_version(self, row: Mapping[str, Any]) -> str:
        node_id = version_node_id(row["name"], row["version"])
        run_id = row["run_id"]
        self.nodes[node_id] = LineageNode(
            id=node_id,
            kind="model_version",
            depth=0,
            name=row["name"],
            version=row["version"],
            aliases=list(row["aliases"]),
            run_id=run_id.hex if run_id is not None else None,
        )
        if run_id is not None:
            self.edge(run_node_id(run_id.hex), node_id, "registered")
        if row["logged_model_id"] is not None:
            self.edge(logged_model_node_id(row["logged_model_id"]), node_id, "registered")
            self.nodes[node_id].model_id = row["logged_model_id"]
        return node_id

    def edge(self, source: str, target: str, kind: EdgeKind, context: str | None = None) -> None:
        self.edges[(source, target, kind, context)] = LineageEdge(
            source=source, target=target, kind=kind, context=context
        )

    def finish(self, depth: int, truncated: bool) -> LineageGraph:
        """The graph with each node's distance from the root, nodes and edges in a stable order."""
        # An edge can name a node outside the walk (a version's run beyond the depth limit, or
        # purged): keep only edges between nodes the graph holds.
        edges = [
            e for e in self.edges.values() if e.source in self.nodes and e.target in self.nodes
        ]
        following: dict[str, list[str]] = {}
        for e in edges:
            near, far = (
                (e.target, e.source) if self.direction == "upstream" else (e.source, e.target)
            )
            following.setdefault(near, []).append(far)
        distance = {self.root: 0}
        queue = deque([self.root])
        while queue:
            current = queue.popleft()
            for neighbour in following.get(current, []):
                if neighbour not in distance:
                    distance[neighbour] = distance[current] + 1
                    queue.append(neighbour)
        nodes = [
            _with_depth(node, distance[node.id])
            for node in self.nodes.values()
            if node.id in distance
        ]
        nodes.sort(key=lambda n: (n.depth, n.kind, n.id))
        kept = {n.id for n in nodes}
        edges = [e for e in edges if e.source in kept and e.target in kept]
        edges.sort(key=lambda e: (e.source, e.target, e.kind, e.context or ""))
        return LineageGraph(
            root=self.root,
            direction=self.direction,
            depth=depth,
            truncated=truncated,
            nodes=nodes,
            edges=edges,
        )


def _with_depth(node: LineageNode, depth: int) -> LineageNode:
    node.depth = depth
    return node


async def _rows(conn: Conn, name: str, args: Mapping[str, Any]) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query(name), args)
    return await cur.fetchall()
