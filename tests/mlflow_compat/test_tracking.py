"""The real mlflow client (MlflowClient and the fluent API) against a running modelyard server:
experiments, runs, params, metrics, tags, batches, non-finite values and errors."""

from __future__ import annotations

import math
import uuid

import httpx
import mlflow
import pytest
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


def test_start_run_without_an_experiment_uses_default(
    tracking_uri: str, client: mlflow.MlflowClient
) -> None:
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.set_tag("team", "vision")
    got = client.get_run(run.info.run_id)
    assert got.info.experiment_id == "0"
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "first"
    assert got.info.end_time is not None and got.info.end_time >= got.info.start_time
    assert got.data.params == {"lr": "0.01"}
    assert got.data.metrics == {"loss": 0.5}
    assert got.data.tags["team"] == "vision"
    # The system tags the client sends are kept.
    for tag in ("mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName"):
        assert tag in got.data.tags, tag
    assert got.data.tags["mlflow.runName"] == "first"
    # The same run through our own API.
    ours = httpx.get(f"{tracking_uri}/api/v1/runs/{run.info.run_id}").json()
    assert ours["name"] == "first" and ours["params"] == {"lr": "0.01"}
    assert ours["user_id"] == got.data.tags["mlflow.user"]


def test_experiment_lifecycle(client: mlflow.MlflowClient) -> None:
    experiment_id = client.create_experiment("churn", tags={"team": "growth"})
    assert isinstance(experiment_id, str)
    assert client.get_experiment(experiment_id).name == "churn"
    assert client.get_experiment_by_name("churn").tags == {"team": "growth"}
    assert client.get_experiment_by_name("nope") is None
    client.rename_experiment(experiment_id, "churn-v2")
    client.set_experiment_tag(experiment_id, "stage", "beta")
    client.delete_experiment_tag(experiment_id, "team")
    got = client.get_experiment(experiment_id)
    assert (got.name, got.tags) == ("churn-v2", {"stage": "beta"})
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert [e.name for e in client.search_experiments()] == ["Default"]
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.name for e in deleted] == ["churn-v2"]
    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"


def test_search_experiments_filter_order_and_pages(client: mlflow.MlflowClient) -> None:
    for i in range(7):
        client.create_experiment(f"exp-{i}", tags={"parity": "even" if i % 2 == 0 else "odd"})
    found = client.search_experiments(
        filter_string="name LIKE 'exp-%' AND tags.parity = 'even'", order_by=["name DESC"]
    )
    assert [e.name for e in found] == ["exp-6", "exp-4", "exp-2", "exp-0"]
    first = client.search_experiments(max_results=3, order_by=["name ASC"])
    assert [e.name for e in first] == ["Default", "exp-0", "exp-1"]
    assert first.token
    names = [e.name for e in first]
    token = first.token
    while token:
        page = client.search_experiments(max_results=3, order_by=["name ASC"], page_token=token)
        names += [e.name for e in page]
        token = page.token
    assert names == ["Default", *(f"exp-{i}" for i in range(7))]


def test_set_experiment_and_nested_runs(client: mlflow.MlflowClient) -> None:
    experiment = mlflow.set_experiment("nested")
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("acc", 0.9)
    got = client.get_run(child.info.run_id)
    assert got.info.experiment_id == experiment.experiment_id
    assert got.data.tags["mlflow.parentRunId"] == parent.info.run_id
    children = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]
    by_name = client.search_runs([experiment.experiment_id], "tags.mlflow.runName = 'child'")
    assert [r.info.run_name for r in by_name] == ["child"]


def test_run_lifecycle_with_the_client(client: mlflow.MlflowClient) -> None:
    experiment_id = client.create_experiment("lifecycle")
    run = client.create_run(experiment_id, run_name="r1", tags={"k": "v"})
    assert run.info.status == "RUNNING" and run.info.run_name == "r1"
    client.log_param(run.info.run_id, "p", "1")
    client.set_tag(run.info.run_id, "k", "v2")
    client.set_tag(run.info.run_id, "gone", "x")
    client.delete_tag(run.info.run_id, "gone")
    client.update_run(run.info.run_id, name="renamed")
    client.set_terminated(run.info.run_id, "KILLED")
    got = client.get_run(run.info.run_id)
    assert (got.info.status, got.info.run_name) == ("KILLED", "renamed")
    assert got.data.tags["k"] == "v2" and "gone" not in got.data.tags
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    assert client.search_runs([experiment_id]) == []
    client.restore_run(run.info.run_id)
    assert [r.info.run_id for r in client.search_runs([experiment_id])] == [run.info.run_id]


def test_log_batch_at_its_limits_is_one_write(client: mlflow.MlflowClient) -> None:
    run = client.create_run("0")
    run_id = run.info.run_id
    metrics = [Metric("m", float(i), 1_700_000_000_000 + i, i) for i in range(1000)]
    params = [Param(f"p{i}", str(i)) for i in range(100)]
    tags = [RunTag(f"t{i}", str(i)) for i in range(100)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    got = client.get_run(run_id)
    assert len(got.data.params) == 100
    assert sum(1 for key in got.data.tags if key.startswith("t")) == 100
    assert len(client.get_metric_history(run_id, "m")) == 1000

    # Over a limit, straight to the server (the client itself splits big batches).
    store = client._tracking_client.store
    too_many = [Metric("x", 1.0, 1, i) for i in range(1001)]
    with pytest.raises(MlflowException) as raised:
        store.log_batch(run_id, metrics=too_many, params=[], tags=[])
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        store.log_batch(
            run_id, metrics=[], params=[Param(f"q{i}", "1") for i in range(101)], tags=[]
        )
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    # A failing batch writes none of its parts: a changed param rolls back metrics and tags.
    with pytest.raises(MlflowException) as raised:
        store.log_batch(
            run_id,
            metrics=[Metric("atomic", 1.0, 1, 0)],
            params=[Param("p0", "changed")],
            tags=[RunTag("atomic", "1")],
        )
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    after = client.get_run(run_id)
    assert "atomic" not in after.data.metrics and "atomic" not in after.data.tags
    assert after.data.params["p0"] == "0"


def test_nan_and_infinities_round_trip(client: mlflow.MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    for step, value in enumerate([math.nan, math.inf, -math.inf, 1.5]):
        client.log_metric(run_id, "v", value, step=step)
    client.log_metric(run_id, "last_nan", math.nan)
    history = [m.value for m in client.get_metric_history(run_id, "v")]
    assert math.isnan(history[0]) and history[1:] == [math.inf, -math.inf, 1.5]
    assert math.isnan(client.get_run(run_id).data.metrics["last_nan"])
    client.log_batch(run_id, metrics=[Metric("b", -math.inf, 1, 0)])
    assert client.get_run(run_id).data.metrics["b"] == -math.inf


def test_metric_history_over_several_pages(client: mlflow.MlflowClient) -> None:
    # The client asks for 25,000 points a page and follows next_page_token.
    run_id = client.create_run("0").info.run_id
    points = 55_000
    for start in range(0, points, 1000):
        batch = [
            Metric("loss", i / points, 1_700_000_000_000 + i, i) for i in range(start, start + 1000)
        ]
        client.log_batch(run_id, metrics=batch)
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(points))
    assert history[-1].value == (points - 1) / points


def test_errors_surface_as_mlflow_exceptions(client: mlflow.MlflowClient) -> None:
    with pytest.raises(MlflowException) as raised:
        client.get_run(uuid.uuid4().hex)
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.create_experiment("dup")
    with pytest.raises(MlflowException) as raised:
        client.create_experiment("dup")
    assert raised.value.error_code == "RESOURCE_ALREADY_EXISTS"
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "p", "1")
    with pytest.raises(MlflowException) as raised:
        client.log_param(run_id, "p", "2")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.search_runs(["0"], filter_string="metrics.loss <")
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException) as raised:
        client.get_experiment("123456")
    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_run(run_id)
    with pytest.raises(MlflowException) as raised:
        client.log_metric(run_id, "m", 1.0)
    assert raised.value.error_code == "INVALID_PARAMETER_VALUE"
