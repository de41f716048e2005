"""Model version search on a real PostgreSQL: attributes, tags, run ids, version numbers, pages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from modelyard.errors import FilterSyntaxError, InvalidInput
from modelyard.store import Store
from modelyard.store.model_version_search import ModelVersionSearch
from pool_support import pooled

pytestmark = pytest.mark.anyio


@dataclass
class Version:
    model: str
    version: int
    source: str
    stage: str = "None"
    run_id: uuid.UUID | None = None
    tags: dict[str, str] = field(default_factory=dict)


def _versions(run_a: uuid.UUID, run_b: uuid.UUID) -> list[Version]:
    return [
        Version("fraud-detector", 1, "s3://m/fraud/1", run_id=run_a, tags={"team": "risk"}),
        Version("fraud-detector", 2, "s3://m/fraud/2", "Production", run_b, {"team": "risk"}),
        Version("fraud-detector", 3, "s3://m/fraud/3", "Staging", run_b, {"owner": "ann"}),
        Version("Fraud-Rules", 1, "file:///rules/1", tags={"team": "Risk-ops"}),
        Version("churn", 1, "s3://m/churn/1", run_id=run_a),
        Version("churn", 2, "s3://m/churn/2", "Archived", tags={"team": "growth"}),
    ]


class Registry:
    def __init__(self, store: Store, versions: list[Version]) -> None:
        self.search = ModelVersionSearch(store.pool)
        self.versions = versions

    def expect(self, predicate: Callable[[Version], bool]) -> list[tuple[str, int]]:
        chosen = sorted((v for v in self.versions if predicate(v)), key=lambda v: -v.version)
        chosen.sort(key=lambda v: v.model)  # the default order: name ASC, version DESC
        return [(v.model, v.version) for v in chosen]


@pytest.fixture
async def registry(store: Store) -> Registry:
    run_a, run_b = uuid.uuid4(), uuid.uuid4()
    versions = _versions(run_a, run_b)
    async with pooled(store.pool) as conn:
        await conn.execute("INSERT INTO experiment (name) VALUES ('e')")
        await conn.execute(
            "INSERT INTO run (run_id, experiment_id, name) "
            "SELECT x, (SELECT min(experiment_id) FROM experiment), 'r' FROM unnest(%s::uuid[]) x",
            [[run_a, run_b]],
        )
        for name in sorted({v.model for v in versions}):
            await conn.execute("INSERT INTO registered_model (name) VALUES (%s)", [name])
        for v in versions:
            await conn.execute(
                "INSERT INTO model_version (model_id, version, source, stage, run_id) "
                "SELECT model_id, %s, %s, %s, %s FROM registered_model WHERE name = %s",
                [v.version, v.source, v.stage, v.run_id, v.model],
            )
            for key, value in v.tags.items():
                await conn.execute(
                    "INSERT INTO model_version_tag (model_id, version, key, value) "
                    "SELECT model_id, %s, %s, %s FROM registered_model WHERE name = %s",
                    [v.version, key, value, v.model],
                )
    return Registry(store, versions)


def _run_of(registry: Registry, model: str, version: int) -> uuid.UUID:
    run_id = next(v.run_id for v in registry.versions if (v.model, v.version) == (model, version))
    assert run_id is not None
    return run_id


CASES: list[tuple[str, Callable[[Version], bool]]] = [
    ("name = 'churn'", lambda v: v.model == "churn"),
    ("name != 'churn'", lambda v: v.model != "churn"),
    ("name LIKE 'fraud%'", lambda v: v.model.startswith("fraud")),
    ("name ILIKE 'fraud%'", lambda v: v.model.lower().startswith("fraud")),
    ("version_number > 1", lambda v: v.version > 1),
    ("version_number = 2", lambda v: v.version == 2),
    (
        "version_number <= 2 AND name ILIKE 'FRAUD-%'",
        lambda v: v.version <= 2 and v.model.lower().startswith("fraud-"),
    ),
    ("version_number IN (1, 3)", lambda v: v.version in (1, 3)),
    ("tags.team = 'risk'", lambda v: v.tags.get("team") == "risk"),
    ("tags.team ILIKE 'risk%'", lambda v: v.tags.get("team", "").lower().startswith("risk")),
    ("tags.team IS NULL", lambda v: "team" not in v.tags),
    ("tags.team != 'risk'", lambda v: v.tags.get("team") not in (None, "risk")),
    ("source_path LIKE 's3://%'", lambda v: v.source.startswith("s3://")),
    ("current_stage IN ('Production', 'Staging')", lambda v: v.stage in ("Production", "Staging")),
    ("run_id IS NULL", lambda v: v.run_id is None),
    ("name = 'churn' OR tags.owner = 'ann'", lambda v: v.model == "churn" or "owner" in v.tags),
]


@pytest.mark.parametrize(("text", "predicate"), CASES, ids=[c[0] for c in CASES])
async def test_filters_match_the_oracle(
    registry: Registry, text: str, predicate: Callable[[Version], bool]
) -> None:
    found, token = await registry.search.search(text)
    assert found == registry.expect(predicate)
    assert token is None


async def test_run_id_filters(registry: Registry) -> None:
    run_b = _run_of(registry, "fraud-detector", 2)
    found, _ = await registry.search.search(f"run_id = '{run_b.hex}'")
    assert found == registry.expect(lambda v: v.run_id == run_b)
    found, _ = await registry.search.search(f"run_id IN ('{run_b}', 'not-a-run')")
    assert found == registry.expect(lambda v: v.run_id == run_b)
    assert await registry.search.search("run_id = 'nope'") == ([], None)


async def test_order_by_and_pages(registry: Registry) -> None:
    everything, _ = await registry.search.search(order_by=["version_number DESC"])
    expected = sorted(registry.expect(lambda v: True), key=lambda pair: -pair[1])
    assert everything == expected
    pages: list[tuple[str, int]] = []
    token: str | None = None
    while True:
        page, token = await registry.search.search(
            order_by=["version_number DESC"], max_results=4, page_token=token
        )
        pages.extend(page)
        if token is None:
            break
    assert pages == everything


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("metrics.loss < 1", 0),
        ("params.lr = '1'", 0),
        ("version_number = 'one'", 17),
        ("name > 'a'", 0),
        ("nickname = 'x'", 0),
        ("name = 'x' AND", 14),
    ],
)
async def test_bad_filters_are_syntax_errors(registry: Registry, text: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        await registry.search.search(text)
    assert caught.value.position == position


async def test_bad_arguments_are_invalid_input(registry: Registry) -> None:
    kwargs: dict[str, Any]
    for kwargs in ({"max_results": 0}, {"page_token": "junk"}):
        with pytest.raises(InvalidInput):
            await registry.search.search(**kwargs)
    with pytest.raises(FilterSyntaxError):
        await registry.search.search(order_by=["run_id"])


async def test_ordering_by_a_tag_is_a_syntax_error(registry: Registry) -> None:
    # The parser takes tag terms; the version search has no tag column to order by.
    with pytest.raises(FilterSyntaxError) as caught:
        await registry.search.search(order_by=["name", "tags.team DESC"])
    assert caught.value.position == 0
    assert "not by a tag" in str(caught.value)
