"""Model aliases: set, move, resolve and delete; reserved names; consistency under concurrency."""

from __future__ import annotations

import random

import anyio
import psycopg
import pytest
from registry_helpers import count, snapshot

from modelyard.errors import InvalidInput, NotFound
from modelyard.store import Store
from pool_support import pooled

pytestmark = pytest.mark.anyio


async def _model_with_versions(store: Store, name: str, n: int) -> None:
    await store.registry.create_model(name)
    for i in range(n):
        await store.registry.create_version(name, f"s3://{name}/{i + 1}")


async def test_set_and_resolve_alias(store: Store) -> None:
    await _model_with_versions(store, "m", 2)
    await store.registry.set_alias("m", "champion", 2)
    resolved = await store.registry.get_version_by_alias("m", "champion")
    assert (resolved.version, resolved.source) == (2, "s3://m/2")
    assert resolved.aliases == ["champion"]
    assert resolved == await store.registry.get_version("m", 2)


async def test_versions_carry_all_their_aliases(store: Store) -> None:
    await _model_with_versions(store, "m", 2)
    for alias in ("prod", "blue", "2024-q1"):
        await store.registry.set_alias("m", alias, 1)
    assert (await store.registry.get_version("m", 1)).aliases == ["2024-q1", "blue", "prod"]
    assert (await store.registry.get_version("m", 2)).aliases == []
    assert (await store.registry.get_model("m")).aliases == {"prod": 1, "blue": 1, "2024-q1": 1}


async def test_moving_an_alias_updates_the_one_row(store: Store) -> None:
    await _model_with_versions(store, "m", 3)
    await store.registry.set_alias("m", "prod", 1)
    await store.registry.set_alias("m", "prod", 3)
    assert (await store.registry.get_version_by_alias("m", "prod")).version == 3
    assert (await store.registry.get_version("m", 1)).aliases == []
    assert await count(store, "model_alias") == 1


async def test_aliases_are_per_model(store: Store) -> None:
    await _model_with_versions(store, "a", 1)
    await _model_with_versions(store, "b", 2)
    await store.registry.set_alias("a", "prod", 1)
    await store.registry.set_alias("b", "prod", 2)
    assert (await store.registry.get_version_by_alias("a", "prod")).source == "s3://a/1"
    assert (await store.registry.get_version_by_alias("b", "prod")).source == "s3://b/2"


@pytest.mark.parametrize(
    "alias", ["latest", "LATEST", "Latest", "v1", "V12", "v007", "", "has space", "a/b", "x" * 256]
)
async def test_reserved_and_malformed_aliases_are_invalid_input(store: Store, alias: str) -> None:
    await _model_with_versions(store, "m", 1)
    before = await snapshot(store)
    with pytest.raises(InvalidInput, match="alias"):
        await store.registry.set_alias("m", alias, 1)
    with pytest.raises(InvalidInput, match="alias"):
        await store.registry.get_version_by_alias("m", alias)
    with pytest.raises(InvalidInput, match="alias"):
        await store.registry.delete_alias("m", alias)
    assert await snapshot(store) == before


@pytest.mark.parametrize("alias", ["v1a", "vv1", "1", "2024-q1", "_", "x" * 255, "latest-good"])
async def test_names_that_only_resemble_reserved_ones_are_allowed(store: Store, alias: str) -> None:
    await _model_with_versions(store, "m", 1)
    await store.registry.set_alias("m", alias, 1)
    assert (await store.registry.get_version_by_alias("m", alias)).version == 1


async def test_database_refuses_reserved_alias_written_around_the_store(store: Store) -> None:
    await _model_with_versions(store, "m", 1)
    async with pooled(store.pool) as conn:
        for alias in ("latest", "V3"):
            with pytest.raises(psycopg.errors.CheckViolation, match="model_alias_name_ck"):
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO model_alias (model_id, alias, version, workspace_id) "
                        "SELECT model_id, %s, 1, workspace_id FROM registered_model",
                        [alias],
                    )


async def test_set_alias_errors_write_nothing(store: Store) -> None:
    await _model_with_versions(store, "m", 1)
    await store.registry.set_alias("m", "prod", 1)
    before = await snapshot(store)
    with pytest.raises(NotFound, match="version 4 of registered model 'm' does not exist"):
        await store.registry.set_alias("m", "prod", 4)
    with pytest.raises(NotFound, match="version 4 of registered model 'm' does not exist"):
        await store.registry.set_alias("m", "new", 4)
    with pytest.raises(NotFound, match="registered model 'ghost' does not exist"):
        await store.registry.set_alias("ghost", "prod", 1)
    with pytest.raises(InvalidInput, match="version"):
        await store.registry.set_alias("m", "prod", 0)
    assert await snapshot(store) == before


async def test_delete_alias(store: Store) -> None:
    await _model_with_versions(store, "m", 1)
    await store.registry.set_alias("m", "prod", 1)
    await store.registry.set_alias("m", "keep", 1)
    await store.registry.delete_alias("m", "prod")
    with pytest.raises(NotFound, match="alias 'prod' of registered model 'm' does not exist"):
        await store.registry.get_version_by_alias("m", "prod")
    with pytest.raises(NotFound, match="alias 'prod' of registered model 'm' does not exist"):
        await store.registry.delete_alias("m", "prod")
    with pytest.raises(NotFound, match="registered model 'ghost' does not exist"):
        await store.registry.delete_alias("ghost", "prod")
    assert (await store.registry.get_version("m", 1)).aliases == ["keep"]


async def test_resolving_on_unknown_model_names_the_model(store: Store) -> None:
    with pytest.raises(NotFound, match="registered model 'ghost' does not exist"):
        await store.registry.get_version_by_alias("ghost", "prod")


async def test_deleting_a_version_removes_its_aliases_only(store: Store) -> None:
    await _model_with_versions(store, "m", 2)
    await store.registry.set_alias("m", "old", 1)
    await store.registry.set_alias("m", "also-old", 1)
    await store.registry.set_alias("m", "new", 2)
    await store.registry.delete_version("m", 1)
    for alias in ("old", "also-old"):
        with pytest.raises(NotFound, match=f"alias '{alias}'"):
            await store.registry.get_version_by_alias("m", alias)
    assert (await store.registry.get_model("m")).aliases == {"new": 2}


async def test_rename_keeps_aliases(store: Store) -> None:
    await _model_with_versions(store, "old", 2)
    await store.registry.set_alias("old", "prod", 2)
    await store.registry.rename_model("old", "new")
    resolved = await store.registry.get_version_by_alias("new", "prod")
    assert (resolved.name, resolved.version) == ("new", 2)
    with pytest.raises(NotFound, match="registered model 'old'"):
        await store.registry.get_version_by_alias("old", "prod")


async def test_concurrent_moves_never_leave_the_alias_missing(store: Store) -> None:
    versions = 5
    await _model_with_versions(store, "m", versions)
    await store.registry.set_alias("m", "prod", 1)
    moving = True
    resolved: list[int] = []

    async def mover(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(60):
            await store.registry.set_alias("m", "prod", rng.randint(1, versions))

    async def reader() -> None:
        while moving:
            version = await store.registry.get_version_by_alias("m", "prod")
            assert version.source == f"s3://m/{version.version}"
            assert "prod" in version.aliases
            resolved.append(version.version)

    async with anyio.create_task_group() as readers:
        for _ in range(4):
            readers.start_soon(reader)
        async with anyio.create_task_group() as movers:
            for seed in range(6):
                movers.start_soon(mover, seed)
        moving = False
    assert resolved, "the readers never ran"
    assert set(resolved) <= set(range(1, versions + 1))
    assert await count(store, "model_alias") == 1
