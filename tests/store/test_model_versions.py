"""Model versions: gapless numbering under concurrency, stages, descriptions, tags and listing."""

from __future__ import annotations

import uuid

import anyio
import pytest
from registry_helpers import count, insert_run, last_version, snapshot

from modelyard.errors import InvalidInput, NotFound
from modelyard.store import Store

pytestmark = pytest.mark.anyio


async def test_create_version_records_every_field(store: Store) -> None:
    run_id = await insert_run(store)
    await store.registry.create_model("m")
    version = await store.registry.create_version(
        "m",
        "s3://bucket/model",
        run_id=run_id,
        run_link="http://runs/1",
        description="first cut",
        tags={"framework": "torch"},
        user_id="ada",
    )
    assert version.version == 1
    assert (version.name, version.source, version.run_id) == ("m", "s3://bucket/model", run_id)
    assert (version.run_link, version.description, version.user_id) == (
        "http://runs/1",
        "first cut",
        "ada",
    )
    assert version.tags == {"framework": "torch"}
    assert (version.status, version.current_stage, version.aliases) == ("READY", "None", [])
    assert await store.registry.get_version("m", 1) == version
    assert await last_version(store, "m") == 1


async def test_dashed_run_id_is_accepted_and_returned_as_hex(store: Store) -> None:
    run_id = await insert_run(store)
    await store.registry.create_model("m")
    dashed = str(uuid.UUID(run_id))
    assert (await store.registry.create_version("m", "s3://x", run_id=dashed)).run_id == run_id


async def test_versions_number_one_two_three(store: Store) -> None:
    await store.registry.create_model("a")
    await store.registry.create_model("b")
    numbers = [(await store.registry.create_version("a", f"s3://{i}")).version for i in range(3)]
    assert numbers == [1, 2, 3]
    # Numbering is per model.
    assert (await store.registry.create_version("b", "s3://x")).version == 1


async def test_concurrent_creation_gives_exactly_one_to_n(store: Store) -> None:
    await store.registry.create_model("busy")
    got: list[int] = []

    async def writer(count: int) -> None:
        for _ in range(count):
            got.append((await store.registry.create_version("busy", "s3://x")).version)

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(writer, 25)
    assert sorted(got) == list(range(1, 201))
    assert await last_version(store, "busy") == 200
    assert await count(store, "model_version") == 200


async def test_unknown_run_is_not_found_and_leaves_no_gap(store: Store) -> None:
    await store.registry.create_model("m")
    await store.registry.create_version("m", "s3://x")
    before = await snapshot(store)
    ghost = uuid.uuid4().hex
    with pytest.raises(NotFound, match=f"run {ghost} does not exist"):
        await store.registry.create_version("m", "s3://y", run_id=ghost, tags={"a": "b"})
    # The counter was bumped before the insert failed; the rollback took it back.
    assert await snapshot(store) == before
    assert (await store.registry.create_version("m", "s3://z")).version == 2


async def test_concurrent_failures_leave_no_gap(store: Store) -> None:
    await store.registry.create_model("m")
    run_id = await insert_run(store)
    good: list[int] = []

    async def good_writer() -> None:
        for _ in range(10):
            good.append((await store.registry.create_version("m", "s", run_id=run_id)).version)

    async def bad_writer() -> None:
        for _ in range(10):
            with pytest.raises(NotFound):
                await store.registry.create_version("m", "s", run_id=uuid.uuid4().hex)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(good_writer)
            tg.start_soon(bad_writer)
    assert sorted(good) == list(range(1, 31))
    assert await last_version(store, "m") == 30


async def test_create_version_errors_write_nothing(store: Store) -> None:
    await store.registry.create_model("m")
    before = await snapshot(store)
    with pytest.raises(NotFound, match="registered model 'ghost' does not exist"):
        await store.registry.create_version("ghost", "s3://x")
    with pytest.raises(InvalidInput, match="source"):
        await store.registry.create_version("m", "")
    with pytest.raises(InvalidInput, match="source"):
        await store.registry.create_version("m", "s" * 4097)
    with pytest.raises(InvalidInput, match="run_id"):
        await store.registry.create_version("m", "s3://x", run_id="not-a-uuid")
    with pytest.raises(InvalidInput, match="tag key"):
        await store.registry.create_version("m", "s3://x", tags={"": "v"})
    assert await snapshot(store) == before


async def test_get_version_errors_name_what_is_missing(store: Store) -> None:
    await store.registry.create_model("m")
    await store.registry.create_version("m", "s3://x")
    with pytest.raises(NotFound, match="version 7 of registered model 'm' does not exist"):
        await store.registry.get_version("m", 7)
    with pytest.raises(NotFound, match="registered model 'ghost' does not exist"):
        await store.registry.get_version("ghost", 1)
    for bad in (0, -1, "abc", "1.5", 2**31, True, None):
        with pytest.raises(InvalidInput, match="version"):
            await store.registry.get_version("m", bad)  # type: ignore[arg-type]
    # MLflow's REST API sends versions as strings.
    assert (await store.registry.get_version("m", "1")).version == 1


async def test_update_version_description(store: Store) -> None:
    await store.registry.create_model("m")
    created = await store.registry.create_version("m", "s3://x", description="a")
    updated = await store.registry.update_version("m", 1, description="b")
    assert updated.description == "b"
    assert updated.last_updated_timestamp >= created.last_updated_timestamp
    assert (await store.registry.update_version("m", 1, description=None)).description is None
    with pytest.raises(NotFound, match="version 2 of registered model 'm'"):
        await store.registry.update_version("m", 2, description="x")
    with pytest.raises(NotFound, match="registered model 'ghost'"):
        await store.registry.update_version("ghost", 1, description="x")


async def test_delete_version_never_reuses_its_number(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    await registry.create_version("m", "s3://1")
    await registry.create_version("m", "s3://2", tags={"t": "v"})
    await registry.delete_version("m", 2)
    with pytest.raises(NotFound, match="version 2 of registered model 'm'"):
        await registry.get_version("m", 2)
    assert await count(store, "model_version_tag") == 0
    assert (await registry.create_version("m", "s3://3")).version == 3
    with pytest.raises(NotFound, match="version 2"):
        await registry.delete_version("m", 2)
    with pytest.raises(NotFound, match="'ghost'"):
        await registry.delete_version("ghost", 1)
    assert [v.version for v in (await registry.list_versions("m")).items] == [3, 1]


async def test_version_tags(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    await registry.create_version("m", "s3://x", tags={"a": "1"})
    await registry.set_version_tag("m", 1, "a", "2")
    await registry.set_version_tag("m", "1", "b", "3")
    assert (await registry.get_version("m", 1)).tags == {"a": "2", "b": "3"}
    await registry.delete_version_tag("m", 1, "a")
    await registry.delete_version_tag("m", 1, "never-set")
    assert (await registry.get_version("m", 1)).tags == {"b": "3"}
    before = await snapshot(store)
    with pytest.raises(NotFound, match="version 9 of registered model 'm'"):
        await registry.set_version_tag("m", 9, "a", "1")
    with pytest.raises(NotFound, match="version 9 of registered model 'm'"):
        await registry.delete_version_tag("m", 9, "a")
    with pytest.raises(NotFound, match="registered model 'ghost'"):
        await registry.set_version_tag("ghost", 1, "a", "1")
    with pytest.raises(InvalidInput):
        await registry.set_version_tag("m", 1, "a", None)  # type: ignore[arg-type]
    assert await snapshot(store) == before


async def test_transition_stage_accepts_any_capitalisation(store: Store) -> None:
    await store.registry.create_model("m")
    await store.registry.create_version("m", "s3://x")
    moved = await store.registry.transition_stage("m", 1, "sTaGiNg")
    assert moved.current_stage == "Staging"
    assert (await store.registry.get_version("m", 1)).current_stage == "Staging"


async def test_transition_with_archive_existing_archives_only_that_stage(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    for _ in range(4):
        await registry.create_version("m", "s3://x")
    await registry.transition_stage("m", 1, "Production")
    await registry.transition_stage("m", 2, "Production")
    await registry.transition_stage("m", 3, "Staging")
    await registry.transition_stage("m", 4, "Production", archive_existing=True)
    stages = {v.version: v.current_stage for v in (await registry.list_versions("m")).items}
    assert stages == {1: "Archived", 2: "Archived", 3: "Staging", 4: "Production"}


async def test_transition_without_archive_keeps_others(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    await registry.create_version("m", "s3://x")
    await registry.create_version("m", "s3://x")
    await registry.transition_stage("m", 1, "Production")
    await registry.transition_stage("m", 2, "Production")
    stages = [v.current_stage for v in (await registry.list_versions("m")).items]
    assert stages == ["Production", "Production"]


async def test_concurrent_promotions_leave_one_version_in_production(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    for _ in range(8):
        await registry.create_version("m", "s3://x")

    async def promote(version: int) -> None:
        await registry.transition_stage("m", version, "Production", archive_existing=True)

    # Several rounds: without the model lock two promotions racing each miss the other's version.
    for _ in range(10):
        async with anyio.create_task_group() as tg:
            for version in range(1, 9):
                tg.start_soon(promote, version)
        stages = [v.current_stage for v in (await registry.list_versions("m")).items]
        assert stages.count("Production") == 1
        assert stages.count("Archived") == 7
        assert len(await registry.latest_versions("m", ["Production"])) == 1


async def test_transition_errors_change_nothing(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    await registry.create_version("m", "s3://x")
    await registry.create_version("m", "s3://x")
    await registry.transition_stage("m", 1, "Production")
    before = await snapshot(store)
    with pytest.raises(InvalidInput, match="stage"):
        await registry.transition_stage("m", 2, "Prod")
    for stage in ("Archived", "None"):
        with pytest.raises(InvalidInput, match="archive_existing"):
            await registry.transition_stage("m", 2, stage, archive_existing=True)
    with pytest.raises(NotFound, match="version 5 of registered model 'm'"):
        await registry.transition_stage("m", 5, "Production", archive_existing=True)
    with pytest.raises(NotFound, match="registered model 'ghost'"):
        await registry.transition_stage("ghost", 1, "Staging")
    assert await snapshot(store) == before


async def test_latest_versions_per_stage(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    assert await registry.latest_versions("m") == []
    for _ in range(6):
        await registry.create_version("m", "s3://x")
    for version, stage in ((1, "Archived"), (2, "Production"), (3, "Staging"), (4, "Production")):
        await registry.transition_stage("m", version, stage)
    latest = {v.current_stage: v.version for v in await registry.latest_versions("m")}
    assert latest == {"None": 6, "Staging": 3, "Production": 4, "Archived": 1}
    only = await registry.latest_versions("m", ["production", "Staging"])
    assert sorted((v.current_stage, v.version) for v in only) == [
        ("Production", 4),
        ("Staging", 3),
    ]
    with pytest.raises(InvalidInput, match="stage"):
        await registry.latest_versions("m", ["Live"])
    with pytest.raises(NotFound, match="'ghost'"):
        await registry.latest_versions("ghost")


async def test_list_versions_pages_newest_first_with_stage_filter(store: Store) -> None:
    registry = store.registry
    await registry.create_model("m")
    for _ in range(7):
        await registry.create_version("m", "s3://x")
    for version in (2, 5, 6):
        await registry.transition_stage("m", version, "Staging")
    seen: list[int] = []
    token = None
    while True:
        page = await registry.list_versions("m", limit=3, page_token=token)
        seen.extend(v.version for v in page.items)
        token = page.next_page_token
        if token is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    staged = await registry.list_versions("m", stage="staging", limit=2)
    assert [v.version for v in staged.items] == [6, 5]
    rest = await registry.list_versions("m", stage="staging", page_token=staged.next_page_token)
    assert [v.version for v in rest.items] == [2]
    assert rest.next_page_token is None


async def test_list_versions_errors(store: Store) -> None:
    await store.registry.create_model("m")
    with pytest.raises(NotFound, match="'ghost'"):
        await store.registry.list_versions("ghost")
    with pytest.raises(InvalidInput, match="page_token"):
        await store.registry.list_versions("m", page_token="WyJhIl0")  # ["a"]: not a version
    with pytest.raises(InvalidInput, match="stage"):
        await store.registry.list_versions("m", stage="Live")
    with pytest.raises(InvalidInput, match="limit"):
        await store.registry.list_versions("m", limit=0)
