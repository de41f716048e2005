"""A run with its dataset inputs, model inputs and model outputs in one read (MLflow's runs/get):
the same as the separate reads give, for a run with links, one without, and one that is gone."""

from __future__ import annotations

import uuid

import pytest

from modelyard.errors import NotFound
from modelyard.store import Store
from modelyard.store.dataset_records import InputSpec
from modelyard.store.logged_model_records import ModelInput, ModelOutput

pytestmark = pytest.mark.anyio


async def test_the_run_and_its_links_match_the_separate_reads(store: Store) -> None:
    eid = (await store.experiments.get_or_create("exp")).experiment_id
    run_id = (await store.runs.create(eid, tags={"team": "a"})).run_id
    await store.runs.log_params(run_id, {"lr": "0.1"})
    base = await store.logged_models.create("base", experiment_id=eid)
    made = await store.logged_models.create("made", source_run_id=run_id)
    await store.datasets.log_inputs(
        run_id,
        [InputSpec(name="train", digest="d1", tags={"mlflow.data.context": "training"})],
        models=[ModelInput(model_id=base.model_id)],
    )
    await store.logged_models.log_outputs(run_id, [ModelOutput(model_id=made.model_id, step=3)])

    found = await store.run_links.get(run_id)
    assert found.run == await store.runs.get(run_id)
    assert found.dataset_inputs == (await store.datasets.inputs_of([run_id]))[run_id]
    assert [d.dataset.name for d in found.dataset_inputs] == ["train"]
    assert found.model_inputs == [ModelInput(model_id=base.model_id)]
    assert found.model_outputs == [ModelOutput(model_id=made.model_id, step=3)]

    bare = (await store.runs.create(eid)).run_id
    plain = await store.run_links.get(bare)
    assert (plain.dataset_inputs, plain.model_inputs, plain.model_outputs) == ([], [], [])

    with pytest.raises(NotFound):
        await store.run_links.get(uuid.uuid4())
