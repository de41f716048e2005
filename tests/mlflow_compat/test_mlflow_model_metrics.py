"""MLflow 3's model metrics through the real mlflow client: metrics logged with ``model_id`` and a
dataset show on the logged model and on the run, and model search filters and orders by them."""

from __future__ import annotations

import math

import httpx
import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException


def test_metrics_logged_for_a_model_show_on_the_model_and_the_run(client: MlflowClient) -> None:
    with mlflow.start_run() as run:
        run_id = run.info.run_id
        model = client.create_logged_model("0", name="clf", source_run_id=run_id)
        dataset = mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2), name="eval")
        mlflow.log_metric("acc", 0.75, step=1, model_id=model.model_id, dataset=dataset)
    client.log_batch(
        run_id,
        metrics=[
            Metric(
                "loss",
                0.5,
                1_000,
                2,
                model_id=model.model_id,
                dataset_name="eval",
                dataset_digest=dataset.digest,
            ),
            Metric("loss", float("nan"), 1_001, 3, model_id=model.model_id),
            Metric("plain", 1.0, 1_002, 0),
        ],
    )

    got = client.get_logged_model(model.model_id).metrics
    assert [
        (m.key, m.step, m.dataset_name, m.dataset_digest, m.model_id, m.run_id) for m in got
    ] == [
        ("acc", 1, "eval", dataset.digest, model.model_id, run_id),
        ("loss", 2, "eval", dataset.digest, model.model_id, run_id),
        ("loss", 3, None, None, model.model_id, run_id),
    ]
    assert [m.value for m in got[:2]] == [0.75, 0.5]
    assert math.isnan(got[2].value)
    assert got[1].timestamp == 1_000

    # The run has the same points as its own metrics, and the dataset as an input.
    seen = client.get_run(run_id)
    assert seen.data.metrics["acc"] == 0.75
    assert math.isnan(seen.data.metrics["loss"])
    assert seen.data.metrics["plain"] == 1.0
    assert [m.step for m in client.get_metric_history(run_id, "loss")] == [2, 3]
    assert [d.dataset.name for d in seen.inputs.dataset_inputs] == ["eval"]

    # A retried point is kept once on the model.
    client.log_batch(
        run_id, metrics=[Metric("loss", float("nan"), 1_001, 3, model_id=model.model_id)]
    )
    assert len(client.get_logged_model(model.model_id).metrics) == 3


def test_a_metric_for_a_model_that_is_not_here_is_refused_whole(client: MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    absent = "m-" + "0" * 32
    with pytest.raises(MlflowException) as missing:
        client.log_batch(
            run_id, metrics=[Metric("x", 1.0, 1, 0), Metric("y", 1.0, 1, 0, model_id=absent)]
        )
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as alone:
        client.log_metric(run_id, "z", 1.0, model_id=absent)
    assert alone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as malformed:
        client.log_metric(run_id, "z", 1.0, model_id="not-a-model")
    assert malformed.value.error_code == "INVALID_PARAMETER_VALUE"
    # Nothing of the refused requests reached the run.
    assert client.get_run(run_id).data.metrics == {}


def test_search_logged_models_by_metric_and_dataset(
    client: MlflowClient, modelyard_server: str
) -> None:
    run_id = client.create_run("0").info.run_id
    models = {n: client.create_logged_model("0", name=n, source_run_id=run_id) for n in "abcd"}

    def log(name: str, value: float, dataset: str, timestamp: int) -> None:
        model_id = models[name].model_id
        metric = Metric(
            "acc", value, timestamp, 0, model_id=model_id, dataset_name=dataset, dataset_digest="d1"
        )
        client.log_batch(run_id, metrics=[metric])

    log("a", 0.9, "eval", 1)
    log("a", 0.1, "train", 2)  # a's latest point is 0.1 (train); on eval it is 0.9
    log("b", 0.5, "eval", 1)
    log("c", 0.7, "train", 1)  # d has no metric at all

    def names(**search: object) -> list[str]:
        return [m.name for m in client.search_logged_models(["0"], **search)]  # type: ignore[arg-type]

    by_acc = [{"field_name": "metrics.acc", "ascending": False}]
    assert names(order_by=by_acc) == ["c", "b", "a", "d"]
    assert names(order_by=[{"field_name": "metrics.acc"}]) == ["a", "b", "c", "d"]
    on_eval = [{"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"}]
    # Without the metric on that dataset: last, newest first among themselves.
    assert names(order_by=on_eval) == ["a", "b", "d", "c"]
    on_other_digest = [{**on_eval[0], "dataset_digest": "d2"}]
    assert names(order_by=on_other_digest) == ["d", "c", "b", "a"]

    assert names(filter_string="metrics.acc > 0.6", order_by=[{"field_name": "name"}]) == [
        "a",
        "c",
    ]
    train = [{"dataset_name": "train"}]
    assert names(filter_string="metrics.acc > 0.6", datasets=train) == ["c"]
    assert names(datasets=[{"dataset_name": "eval"}]) == ["b", "a"]
    assert names(datasets=[{"dataset_name": "eval", "dataset_digest": "d2"}]) == []

    refused = httpx.post(
        f"{modelyard_server}/api/2.0/mlflow/logged-models/search",
        json={"experiment_ids": ["0"], "datasets": [{"dataset_digest": "d1"}]},
    )
    assert refused.status_code == 400
    assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"
