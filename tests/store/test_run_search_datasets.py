"""Run search by input datasets (MLflow's ``datasets.name``, ``.digest`` and ``.context``)."""

from __future__ import annotations

import pytest

from modelyard.errors import FilterSyntaxError
from modelyard.store import Store
from modelyard.store.dataset_records import InputSpec

pytestmark = pytest.mark.anyio


@pytest.fixture
async def runs(store: Store) -> tuple[int, dict[str, str]]:
    """Runs reading: train@a (training), train@a and test@b (evaluation), nothing."""
    experiment_id = (await store.experiments.create("datasets")).experiment_id
    ids: dict[str, str] = {}
    for name in ("trainer", "evaluator", "idle"):
        ids[name] = (await store.runs.create(experiment_id, name=name)).run_id
    await store.datasets.log_inputs(
        ids["trainer"], [InputSpec(name="train", digest="a", context="training")]
    )
    await store.datasets.log_inputs(
        ids["evaluator"],
        [
            InputSpec(name="train", digest="a", context="evaluation"),
            InputSpec(name="test", digest="b", context="evaluation"),
        ],
    )
    return experiment_id, ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("datasets.name = 'train'", {"trainer", "evaluator"}),
        ("datasets.name = 'test'", {"evaluator"}),
        ("datasets.digest = 'b'", {"evaluator"}),
        ("datasets.context = 'training'", {"trainer"}),
        ("datasets.name IN ('test', 'other')", {"evaluator"}),
        ("datasets.name LIKE 'tr%' AND datasets.context = 'evaluation'", {"evaluator"}),
        # Some input is not named 'train': a run without inputs has none, so it does not match.
        ("datasets.name != 'train'", {"evaluator"}),
        ("datasets.name ILIKE 'TEST'", {"evaluator"}),
        ("datasets.name IS NULL", {"idle"}),
        ("NOT datasets.name = 'train'", {"idle"}),
        ("datasets.name = 'nothing'", set()),
    ],
)
async def test_dataset_filters(
    store: Store, runs: tuple[int, dict[str, str]], text: str, expected: set[str]
) -> None:
    experiment_id, ids = runs
    found, _ = await store.run_search.search([experiment_id], text)
    names = {name for name, run_id in ids.items() if run_id in found}
    assert names == expected
    assert len(found) == len(expected)


async def test_datasets_cannot_order_runs(store: Store, runs: tuple[int, dict[str, str]]) -> None:
    with pytest.raises(FilterSyntaxError, match="not by a dataset"):
        await store.run_search.search([runs[0]], None, ["datasets.name"])
