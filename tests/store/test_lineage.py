"""Lineage both ways on a small graph with known answers: depth > 2, a diamond, a parent run,
a cycle, and the depth limit.

The graph (datasets as name@digest; -> is "wrote", <- "read")::

    A  <- raw@r1            -> feat@f1
    B  <- feat@f1           -> clean@f2
    C  <- feat@f1           -> aux@a1          (A, B, C, D: a diamond through f1)
    P  <- config@c1                            (P is D's parent run)
    D  <- clean@f2 (training), aux@a1 (validation)     => model m/1 (alias champion)
    E  <- raw@r1                                       => model other/1
    X  <- loop@l1           -> loop@l2
    Y  <- loop@l2           -> loop@l1         (a cycle)  => model cyc/1
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from modelyard.errors import InvalidInput, NotFound
from modelyard.store import Store
from modelyard.store.dataset_records import DatasetSpec, InputSpec
from modelyard.store.lineage_records import LineageGraph

pytestmark = pytest.mark.anyio


@dataclass
class Runs:
    by_letter: dict[str, str]

    def node(self, letter: str) -> str:
        return f"run:{self.by_letter[letter]}"


async def _build(store: Store) -> Runs:
    eid = (await store.experiments.get_or_create("lineage")).experiment_id
    ids: dict[str, str] = {}
    for letter in "APBCEXY":
        ids[letter] = (await store.runs.create(eid, name=letter)).run_id
    ids["D"] = (await store.runs.create(eid, name="D", parent_run_id=ids["P"])).run_id

    async def run(letter: str, reads: list[tuple[str, str | None]], writes: list[str]) -> None:
        if reads:
            specs = [_input(ref, context) for ref, context in reads]
            await store.datasets.log_inputs(ids[letter], specs)
        if writes:
            await store.datasets.log_outputs(ids[letter], [_spec(ref) for ref in writes])

    await run("A", [("raw@r1", None)], ["feat@f1"])
    await run("B", [("feat@f1", None)], ["clean@f2"])
    await run("C", [("feat@f1", None)], ["aux@a1"])
    await run("P", [("config@c1", None)], [])
    await run("D", [("clean@f2", "training"), ("aux@a1", "validation")], [])
    await run("E", [("raw@r1", None)], [])
    await run("X", [("loop@l1", None)], ["loop@l2"])
    await run("Y", [("loop@l2", None)], ["loop@l1"])
    for model, letter in (("m", "D"), ("other", "E"), ("cyc", "Y")):
        await store.registry.create_model(model)
        await store.registry.create_version(model, f"s3://models/{model}", run_id=ids[letter])
    await store.registry.set_alias("m", "champion", 1)
    return Runs(ids)


def _spec(ref: str) -> DatasetSpec:
    name, digest = ref.split("@")
    return DatasetSpec(name=name, digest=digest)


def _input(ref: str, context: str | None) -> InputSpec:
    name, digest = ref.split("@")
    return InputSpec(name=name, digest=digest, context=context)


def _edges(graph: LineageGraph) -> set[tuple[str, str, str, str | None]]:
    return {(e.source, e.target, e.kind, e.context) for e in graph.edges}


def _depths(graph: LineageGraph) -> dict[str, int]:
    return {n.id: n.depth for n in graph.nodes}


async def test_upstream_of_a_model_version_through_a_diamond_and_a_parent(store: Store) -> None:
    runs = await _build(store)
    graph = await store.lineage.graph("models:/m@champion")
    assert graph.root == "models:/m/1" and graph.direction == "upstream"
    assert not graph.truncated
    a, b, c, d, p = (runs.node(x) for x in "ABCDP")
    assert _edges(graph) == {
        (d, "models:/m/1", "registered", None),
        (p, d, "parent", None),
        ("dataset:clean@f2", d, "input", "training"),
        ("dataset:aux@a1", d, "input", "validation"),
        ("dataset:config@c1", p, "input", None),
        (b, "dataset:clean@f2", "output", None),
        (c, "dataset:aux@a1", "output", None),
        ("dataset:feat@f1", b, "input", None),
        ("dataset:feat@f1", c, "input", None),
        (a, "dataset:feat@f1", "output", None),
        ("dataset:raw@r1", a, "input", None),
    }
    # Distances from the root; the diamond's far end (A) appears once, at 5 edges.
    assert _depths(graph) == {
        "models:/m/1": 0,
        d: 1,
        p: 2,
        "dataset:clean@f2": 2,
        "dataset:aux@a1": 2,
        b: 3,
        c: 3,
        "dataset:config@c1": 3,
        "dataset:feat@f1": 4,
        a: 5,
        "dataset:raw@r1": 6,
    }
    by_number = await store.lineage.graph("models:/m/1")
    assert by_number == graph
    latest = await store.lineage.graph("models:/m/latest")
    assert latest == graph
    run_d = next(n for n in graph.nodes if n.id == d)
    assert (run_d.name, run_d.status, run_d.kind) == ("D", "RUNNING", "run")
    version = graph.nodes[0]
    assert version.kind == "model_version" and version.aliases == ["champion"]


async def test_downstream_of_a_dataset_version_reaches_every_derived_model(store: Store) -> None:
    runs = await _build(store)
    graph = await store.lineage.graph("dataset:raw@r1")
    assert graph.root == "dataset:raw@r1" and graph.direction == "downstream"
    a, b, c, d, e = (runs.node(x) for x in "ABCDE")
    assert _edges(graph) == {
        ("dataset:raw@r1", a, "input", None),
        ("dataset:raw@r1", e, "input", None),
        (a, "dataset:feat@f1", "output", None),
        ("dataset:feat@f1", b, "input", None),
        ("dataset:feat@f1", c, "input", None),
        (b, "dataset:clean@f2", "output", None),
        (c, "dataset:aux@a1", "output", None),
        ("dataset:clean@f2", d, "input", "training"),
        ("dataset:aux@a1", d, "input", "validation"),
        (d, "models:/m/1", "registered", None),
        (e, "models:/other/1", "registered", None),
    }
    versions = {n.id for n in graph.nodes if n.kind == "model_version"}
    assert versions == {"models:/m/1", "models:/other/1"}
    # Parents are upstream, never downstream; the cycle is unrelated.
    assert runs.node("P") not in _depths(graph)
    assert _depths(graph)["models:/m/1"] == 6  # r1, A, f1, B or C, f2 or a1, D, m/1


async def test_the_two_directions_agree(store: Store) -> None:
    await _build(store)
    up = await store.lineage.graph("models:/m/1")
    for node in up.nodes:
        if node.kind == "dataset_version":
            down = await store.lineage.graph(node.id)
            assert "models:/m/1" in _depths(down), node.id


async def test_a_cycle_ends_and_each_node_appears_once(store: Store) -> None:
    runs = await _build(store)
    graph = await store.lineage.graph("models:/cyc/1", depth=100)
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert set(ids) == {
        "models:/cyc/1",
        runs.node("Y"),
        runs.node("X"),
        "dataset:loop@l1",
        "dataset:loop@l2",
    }
    assert not graph.truncated
    loop = await store.lineage.graph("dataset:loop@l1")
    assert {n.id for n in loop.nodes if n.kind == "model_version"} == {"models:/cyc/1"}


async def test_depth_limits_the_runs_followed_and_says_so(store: Store) -> None:
    runs = await _build(store)
    graph = await store.lineage.graph("models:/m/1", depth=2)
    assert graph.truncated and graph.depth == 2
    nodes = set(_depths(graph))
    assert {runs.node("D"), runs.node("P"), runs.node("B"), runs.node("C")} <= nodes
    assert runs.node("A") not in nodes and "dataset:raw@r1" not in nodes
    assert "dataset:feat@f1" in nodes  # read by B and C, which are within the limit
    one = await store.lineage.graph("models:/m/1", depth=1)
    assert {n.kind for n in one.nodes} == {"model_version", "run", "dataset_version"}
    assert runs.node("P") not in _depths(one)
    full = await store.lineage.graph("models:/m/1", depth=3)
    assert not full.truncated


async def test_a_version_without_a_run_and_a_dataset_nobody_read(store: Store) -> None:
    await store.registry.create_model("bare")
    await store.registry.create_version("bare", "s3://x")
    graph = await store.lineage.graph("models:/bare/1")
    assert [n.id for n in graph.nodes] == ["models:/bare/1"] and graph.edges == []
    await store.datasets.log_version(DatasetSpec(name="lonely", digest="z"))
    alone = await store.lineage.graph("dataset:lonely@z")
    assert [n.id for n in alone.nodes] == ["dataset:lonely@z"]


@pytest.mark.parametrize(
    ("uri", "error", "phrase"),
    [
        ("models:/nope/1", NotFound, "registered model 'nope'"),
        ("models:/m/9", NotFound, "version 9"),
        ("models:/m@gone", NotFound, "alias 'gone'"),
        ("dataset:nope@x", NotFound, "dataset 'nope'"),
        ("dataset:raw@zz", NotFound, "no version with digest 'zz'"),
        ("runs:/abc", InvalidInput, "lineage URI"),
        ("models:/m", InvalidInput, "lineage URI"),
        ("dataset:raw", InvalidInput, "lineage URI"),
        ("models:/m/0", InvalidInput, "version"),
    ],
)
async def test_bad_and_missing_roots(
    store: Store, uri: str, error: type[Exception], phrase: str
) -> None:
    await store.registry.create_model("m")
    await store.registry.create_version("m", "s3://m")
    await store.datasets.log_version(DatasetSpec(name="raw", digest="r1"))
    with pytest.raises(error, match=phrase):
        await store.lineage.graph(uri)


async def test_depth_is_checked(store: Store) -> None:
    for depth in (0, 101):
        with pytest.raises(InvalidInput, match="depth"):
            await store.lineage.graph("models:/m/1", depth=depth)
