"""Logged models (MLflow 3's LoggedModel): create, finalize against the uploaded files, tags,
listing, run model outputs/inputs, registration as a model version, and lineage through them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from modelyard.artifacts.postgres import PostgresBackend
from modelyard.artifacts.store import ArtifactStore
from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.store import Store
from modelyard.store.dataset_records import InputSpec
from modelyard.store.logged_model_records import METADATA_FILE, ModelInput, ModelOutput

pytestmark = pytest.mark.anyio


async def _run(store: Store, experiment: str = "exp") -> str:
    eid = (await store.experiments.get_or_create(experiment)).experiment_id
    return (await store.runs.create(eid)).run_id


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _upload(store: Store, run_id: str, path: str, data: bytes) -> None:
    import uuid

    artifacts = ArtifactStore(store.pool, PostgresBackend(store.pool))
    await artifacts.put(uuid.UUID(run_id), path, _bytes(data))


async def test_create_finalize_and_read_back(store: Store) -> None:
    run_id = await _run(store)
    model = await store.logged_models.create(
        "classifier",
        source_run_id=run_id,
        model_type="Classifier",
        flavor="sklearn",
        metadata={"signature": {"inputs": [{"name": "x", "type": "double"}]}},
        tags={"team": "vision"},
        params={"alpha": "0.1"},
    )
    assert re.fullmatch(r"m-[0-9a-f]{32}", model.model_id)
    assert model.status == "PENDING" and model.source_run_id == run_id
    assert model.artifact_path == f"models/{model.model_id}"
    assert model.artifact_uri == f"runs:/{run_id}/models/{model.model_id}"
    assert (model.tags, model.params, model.flavor) == (
        {"team": "vision"},
        {"alpha": "0.1"},
        "sklearn",
    )
    run = await store.runs.get(run_id)
    assert model.experiment_id == run.experiment_id
    # READY needs the metadata file among the run's artifacts: a READY model has its files.
    with pytest.raises(InvalidState, match=METADATA_FILE):
        await store.logged_models.finalize(model.model_id, "READY")
    await _upload(store, run_id, f"{model.artifact_path}/{METADATA_FILE}", b"{}")
    ready = await store.logged_models.finalize(model.model_id, "READY")
    assert ready.status == "READY"
    assert await store.logged_models.get(model.model_id) == ready
    with pytest.raises(InvalidState, match="READY"):
        await store.logged_models.finalize(model.model_id, "FAILED")
    other = await store.logged_models.create("broken", source_run_id=run_id)
    failed = await store.logged_models.finalize(other.model_id, "FAILED", status_message="disk")
    assert (failed.status, failed.status_message) == ("FAILED", "disk")


async def test_tags_listing_and_errors(store: Store) -> None:
    run_id = await _run(store)
    experiment_id = (await store.runs.get(run_id)).experiment_id
    created = [
        await store.logged_models.create(f"m{i}", experiment_id=experiment_id) for i in range(3)
    ]
    await store.logged_models.set_tags(created[0].model_id, {"k": "v"})
    assert (await store.logged_models.get(created[0].model_id)).tags == {"k": "v"}
    await store.logged_models.delete_tag(created[0].model_id, "k")
    with pytest.raises(NotFound):
        await store.logged_models.delete_tag(created[0].model_id, "k")
    page = await store.logged_models.list(experiment_id, limit=2)
    assert [m.name for m in page.items] == ["m2", "m1"] and page.next_page_token
    rest = await store.logged_models.list(experiment_id, page_token=page.next_page_token)
    assert [m.name for m in rest.items] == ["m0"] and rest.next_page_token is None
    with pytest.raises(InvalidInput):
        await store.logged_models.create("x")  # neither experiment nor run
    other_experiment = (await store.experiments.get_or_create("other")).experiment_id
    with pytest.raises(InvalidInput, match="belongs to experiment"):
        await store.logged_models.create("x", source_run_id=run_id, experiment_id=other_experiment)
    with pytest.raises(InvalidInput, match="model_id"):
        await store.logged_models.get("m-123")
    with pytest.raises(NotFound):
        await store.logged_models.get("m-" + "0" * 32)
    with pytest.raises(NotFound):
        await store.logged_models.create("x", experiment_id=999)


async def test_run_outputs_inputs_and_registration(store: Store) -> None:
    producer, consumer = await _run(store), await _run(store)
    model = await store.logged_models.create("clf", source_run_id=producer)
    await store.logged_models.log_outputs(producer, [ModelOutput(model_id=model.model_id, step=5)])
    await store.datasets.log_inputs(consumer, [], models=[ModelInput(model_id=model.model_id)])
    outputs = await store.logged_models.outputs_of([producer])
    assert outputs[producer] == [ModelOutput(model_id=model.model_id, step=5)]
    inputs = await store.logged_models.inputs_of([consumer, producer])
    assert inputs == {consumer: [ModelInput(model_id=model.model_id)], producer: []}
    missing = "m-" + "1" * 32
    with pytest.raises(NotFound, match=missing):
        # All or nothing: the dataset input is not left behind by the missing model.
        await store.datasets.log_inputs(
            consumer, [InputSpec(name="d", digest="x")], models=[ModelInput(model_id=missing)]
        )
    assert (await store.datasets.inputs_of([consumer]))[consumer] == []

    await store.registry.create_model("clf")
    version = await store.registry.create_version(
        "clf", f"models:/{model.model_id}", model_id=model.model_id
    )
    assert version.model_id == model.model_id
    registered = await store.logged_models.get(model.model_id)
    assert [(r.name, r.version) for r in registered.registrations] == [("clf", 1)]
    with pytest.raises(NotFound, match="logged model"):
        await store.registry.create_version("clf", "s3://x", model_id=missing)
    assert (await store.registry.get_version("clf", 1)).model_id == model.model_id


async def test_lineage_runs_through_logged_models(store: Store) -> None:
    """prep -> features -> train -> logged model -> version 1; finetune takes the logged model
    and produces another, registered as version 2."""
    prep, train, finetune = await _run(store), await _run(store), await _run(store)
    await store.datasets.log_outputs(prep, [InputSpec(name="features", digest="f1")])
    await store.datasets.log_inputs(train, [InputSpec(name="features", digest="f1")])
    base = await store.logged_models.create("base", source_run_id=train, flavor="torch")
    tuned = await store.logged_models.create("tuned", source_run_id=finetune)
    await store.datasets.log_inputs(finetune, [], models=[ModelInput(model_id=base.model_id)])
    await store.registry.create_model("clf")
    await store.registry.create_version("clf", "models:/b", model_id=base.model_id)
    await store.registry.create_version("clf", "models:/t", model_id=tuned.model_id)

    def edges(graph: object) -> set[tuple[str, str, str]]:
        return {(e.source, e.target, e.kind) for e in graph.edges}  # type: ignore[attr-defined]

    b, t = f"logged_model:{base.model_id}", f"logged_model:{tuned.model_id}"
    up = await store.lineage.graph("models:/clf/2")
    assert edges(up) == {
        (t, "models:/clf/2", "registered"),
        (f"run:{finetune}", t, "logged"),
        (b, f"run:{finetune}", "input"),
        (f"run:{train}", b, "logged"),
        ("dataset:features@f1", f"run:{train}", "input"),
        (f"run:{prep}", "dataset:features@f1", "output"),
    }
    node = next(n for n in up.nodes if n.id == b)
    assert (node.kind, node.flavor, node.model_id) == ("logged_model", "torch", base.model_id)
    down = await store.lineage.graph("dataset:features@f1")
    versions = {n.id for n in down.nodes if n.kind == "model_version"}
    assert versions == {"models:/clf/1", "models:/clf/2"}
    assert (b, "models:/clf/1", "registered") in edges(down)
