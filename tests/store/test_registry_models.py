"""Registered models: create, read, rename, update, delete, tags and paginated listing."""

from __future__ import annotations

import pytest
from registry_helpers import count, snapshot

from modelyard.errors import AlreadyExists, InvalidInput, NotFound
from modelyard.store import Store

pytestmark = pytest.mark.anyio


async def test_create_and_get_model(store: Store) -> None:
    created = await store.registry.create_model(
        "fraud", description="flags fraud", tags={"team": "risk", "tier": "1"}
    )
    assert created.name == "fraud"
    assert created.description == "flags fraud"
    assert created.tags == {"team": "risk", "tier": "1"}
    assert created.aliases == {}
    assert created.latest_versions == []
    assert created.creation_timestamp == created.last_updated_timestamp > 0
    assert await store.registry.get_model("fraud") == created


async def test_create_duplicate_name_is_already_exists_and_writes_nothing(store: Store) -> None:
    await store.registry.create_model("fraud", tags={"a": "1"})
    before = await snapshot(store)
    with pytest.raises(AlreadyExists, match="'fraud'"):
        await store.registry.create_model("fraud", description="other", tags={"b": "2"})
    assert await snapshot(store) == before


@pytest.mark.parametrize("name", ["", "   ", "x" * 257, "bad\nname", None])
async def test_create_with_invalid_name_is_invalid_input(store: Store, name: object) -> None:
    with pytest.raises(InvalidInput):
        await store.registry.create_model(name)  # type: ignore[arg-type]
    assert await count(store, "registered_model") == 0


async def test_create_with_invalid_tag_writes_no_model(store: Store) -> None:
    with pytest.raises(InvalidInput, match="tag key"):
        await store.registry.create_model("m", tags={"ok": "1", "../escape": "2"})
    with pytest.raises(InvalidInput, match="description"):
        await store.registry.create_model("m", description="x" * 70_000)
    assert await count(store, "registered_model") == 0
    assert await count(store, "registered_model_tag") == 0


async def test_get_unknown_model_is_not_found_naming_it(store: Store) -> None:
    with pytest.raises(NotFound, match="registered model 'nope' does not exist"):
        await store.registry.get_model("nope")


async def test_get_model_reports_aliases_and_latest_version_per_stage(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    for _ in range(5):
        await registry.create_version("m", "s3://bucket/model")
    await registry.transition_stage("m", 1, "Production")
    await registry.transition_stage("m", 2, "Staging")
    await registry.transition_stage("m", 3, "Staging")
    await registry.set_alias("m", "champion", 1)
    await registry.set_alias("m", "challenger", 3)
    model = await registry.get_model("m")
    assert model.aliases == {"champion": 1, "challenger": 3}
    latest = {v.current_stage: v.version for v in model.latest_versions}
    assert latest == {"None": 5, "Staging": 3, "Production": 1}
    # Each latest version is a full record, aliases included.
    by_version = {v.version: v for v in model.latest_versions}
    assert by_version[1].aliases == ["champion"]


async def test_rename_keeps_versions_tags_and_aliases(store: Store) -> None:
    registry = store.registry
    await registry.create_model("old", tags={"k": "v"})
    await registry.create_version("old", "s3://a")
    await registry.create_version("old", "s3://b")
    await registry.set_alias("old", "prod", 2)
    renamed = await registry.rename_model("old", "new")
    assert renamed.name == "new"
    assert renamed.tags == {"k": "v"}
    assert renamed.aliases == {"prod": 2}
    assert (await registry.get_version_by_alias("new", "prod")).source == "s3://b"
    assert (await registry.get_version("new", 1)).name == "new"
    with pytest.raises(NotFound, match="'old'"):
        await registry.get_model("old")
    # The counter moved with the model: numbering continues.
    assert (await registry.create_version("new", "s3://c")).version == 3


async def test_rename_to_taken_name_is_already_exists_and_changes_nothing(store: Store) -> None:
    await store.registry.create_model("a")
    await store.registry.create_model("b")
    before = await snapshot(store)
    with pytest.raises(AlreadyExists, match="'b'"):
        await store.registry.rename_model("a", "b")
    assert await snapshot(store) == before


async def test_rename_errors(store: Store) -> None:
    with pytest.raises(NotFound, match="'ghost'"):
        await store.registry.rename_model("ghost", "x")
    await store.registry.create_model("a")
    with pytest.raises(InvalidInput, match="new_name"):
        await store.registry.rename_model("a", "")
    assert (await store.registry.get_model("a")).name == "a"


async def test_update_model_sets_and_clears_description(store: Store) -> None:
    created = await store.registry.create_model("m", description="first")
    updated = await store.registry.update_model("m", description="second")
    assert updated.description == "second"
    assert updated.last_updated_timestamp >= created.last_updated_timestamp
    assert (await store.registry.update_model("m", description=None)).description is None
    with pytest.raises(NotFound, match="'ghost'"):
        await store.registry.update_model("ghost", description="x")
    with pytest.raises(InvalidInput):
        await store.registry.update_model("m", description=42)  # type: ignore[arg-type]
    assert (await store.registry.get_model("m")).description is None


async def test_delete_model_cascades_and_spares_other_models(store: Store) -> None:
    registry = store.registry
    for name in ("gone", "kept"):
        await registry.create_model(name, tags={"k": "v"})
        await registry.create_version(name, "s3://x", tags={"t": "1"})
        await registry.set_alias(name, "prod", 1)
    await registry.delete_model("gone")
    with pytest.raises(NotFound):
        await registry.get_model("gone")
    for table in ("registered_model", "registered_model_tag", "model_version"):
        assert await count(store, table) == 1
    assert await count(store, "model_version_tag") == 1
    assert await count(store, "model_alias") == 1
    assert (await registry.get_version_by_alias("kept", "prod")).version == 1
    with pytest.raises(NotFound, match="'gone'"):
        await registry.delete_model("gone")
    # The name is free again and numbering starts afresh for the new model.
    await registry.create_model("gone")
    assert (await registry.create_version("gone", "s3://y")).version == 1


async def test_model_tags_upsert_and_delete(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m", tags={"a": "1"})
    await registry.set_model_tag("m", "a", "2")
    await registry.set_model_tag("m", "b", "3")
    assert (await registry.get_model("m")).tags == {"a": "2", "b": "3"}
    await registry.delete_model_tag("m", "a")
    await registry.delete_model_tag("m", "never-set")  # MLflow: deleting a missing tag is a no-op
    assert (await registry.get_model("m")).tags == {"b": "3"}


async def test_model_tag_errors_write_nothing(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    before = await snapshot(store)
    with pytest.raises(NotFound, match="'ghost'"):
        await registry.set_model_tag("ghost", "a", "1")
    with pytest.raises(NotFound, match="'ghost'"):
        await registry.delete_model_tag("ghost", "a")
    with pytest.raises(InvalidInput):
        await registry.set_model_tag("m", "", "1")
    with pytest.raises(InvalidInput):
        await registry.set_model_tag("m", "k", "x" * 8001)
    assert await snapshot(store) == before


async def test_list_models_pages_through_all_in_name_order(store: Store) -> None:
    names = [f"model-{i:02d}" for i in range(25)]
    for name in reversed(names):
        await store.registry.create_model(name)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = await store.registry.list_models(limit=10, page_token=token)
        seen.extend(m.name for m in page.items)
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert seen == names
    assert pages == 3


async def test_list_models_keyset_is_stable_under_inserts(store: Store) -> None:
    for name in ("b", "d", "f"):
        await store.registry.create_model(name)
    first = await store.registry.list_models(limit=2)
    assert [m.name for m in first.items] == ["b", "d"]
    await store.registry.create_model("a")  # sorts before the cursor: not on later pages
    await store.registry.create_model("e")  # sorts after it: shows up
    rest = await store.registry.list_models(limit=10, page_token=first.next_page_token)
    assert [m.name for m in rest.items] == ["e", "f"]
    assert rest.next_page_token is None


async def test_list_models_name_like_and_details(store: Store) -> None:
    for name in ("fraud-eu", "fraud-us", "churn"):
        await store.registry.create_model(name, tags={"n": name})
    await store.registry.create_version("fraud-us", "s3://x")
    await store.registry.set_alias("fraud-us", "prod", 1)
    page = await store.registry.list_models(name_like="fraud%")
    assert [m.name for m in page.items] == ["fraud-eu", "fraud-us"]
    us = page.items[1]
    assert us.tags == {"n": "fraud-us"}
    assert us.aliases == {"prod": 1}
    assert [v.version for v in us.latest_versions] == [1]
    assert page.items[0].latest_versions == []


@pytest.mark.parametrize("token", ["garbage!", "", "WyJhIiwgMV0", "eyJhIjogMX0"])
async def test_list_models_rejects_bad_tokens(store: Store, token: str) -> None:
    with pytest.raises(InvalidInput, match="page_token"):
        await store.registry.list_models(page_token=token)


@pytest.mark.parametrize("limit", [0, -1, 1001, True])
async def test_list_models_rejects_bad_limits(store: Store, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        await store.registry.list_models(limit=limit)
