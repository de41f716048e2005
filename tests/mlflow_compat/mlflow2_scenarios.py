"""Scenarios an MLflow 2.x client plays against a running modelyard server.

This file runs inside the 2.x client's own venv (``mlflow2_venv.py`` beside it), never in the test
process: modelyard is not importable here, only ``mlflow`` 2.x, scikit-learn and pandas.
``python mlflow2_scenarios.py URL OUT`` plays every scenario, each in its own experiments, and
writes ``{name: null | traceback}`` to OUT as JSON, so the test reports each failure by name.
The tracking and registry subset of the 3.x suite, plus what only 2.x clients send
(``runs/log-model``) and the ``datasets.*`` run filters.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException

SCENARIOS: dict[str, Callable[[mlflow.MlflowClient], None]] = {}


def scenario(function: Callable[[mlflow.MlflowClient], None]) -> Callable[..., None]:
    SCENARIOS[function.__name__] = function
    return function


def error_code(call: Callable[[], object]) -> str:
    try:
        call()
    except MlflowException as exc:
        return str(exc.error_code)
    raise AssertionError("no MlflowException")


@scenario
def fluent_run_in_the_default_experiment(client: mlflow.MlflowClient) -> None:
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", 0.01)
        mlflow.log_metric("loss", 0.5, step=1)
        mlflow.set_tag("team", "vision")
    got = client.get_run(run.info.run_id)
    assert got.info.experiment_id == "0", got.info.experiment_id
    assert (got.info.status, got.info.run_name) == ("FINISHED", "first")
    assert got.data.params == {"lr": "0.01"} and got.data.metrics == {"loss": 0.5}
    for tag in ("mlflow.user", "mlflow.source.name", "mlflow.runName"):
        assert tag in got.data.tags, tag


@scenario
def experiment_lifecycle_and_search(client: mlflow.MlflowClient) -> None:
    ids = [client.create_experiment(f"exp-{i}", tags={"i": str(i)}) for i in range(5)]
    assert client.get_experiment_by_name("exp-3").experiment_id == ids[3]
    client.rename_experiment(ids[0], "renamed")
    client.set_experiment_tag(ids[0], "k", "v")
    got = client.get_experiment(ids[0])
    assert got.name == "renamed" and got.tags["k"] == "v"
    assert got.artifact_location.startswith("mlflow-artifacts:/")
    page = client.search_experiments(
        filter_string="name LIKE 'exp-%'", order_by=["name DESC"], max_results=2
    )
    assert [e.name for e in page] == ["exp-4", "exp-3"] and page.token
    rest = client.search_experiments(
        filter_string="name LIKE 'exp-%'", order_by=["name DESC"], page_token=page.token
    )
    assert [e.name for e in rest] == ["exp-2", "exp-1"]
    client.delete_experiment(ids[1])
    deleted = client.search_experiments(view_type=ViewType.DELETED_ONLY)
    assert [e.experiment_id for e in deleted] == [ids[1]]
    client.restore_experiment(ids[1])
    assert client.get_experiment(ids[1]).lifecycle_stage == "active"


@scenario
def nested_runs_and_run_lifecycle(client: mlflow.MlflowClient) -> None:
    experiment = mlflow.set_experiment("nested")
    with mlflow.start_run(run_name="parent") as parent:
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("acc", 0.9)
    children = client.search_runs(
        [experiment.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert [r.info.run_id for r in children] == [child.info.run_id]
    run = client.create_run(experiment.experiment_id, run_name="r1", tags={"k": "v"})
    client.set_tag(run.info.run_id, "gone", "x")
    client.delete_tag(run.info.run_id, "gone")
    client.update_run(run.info.run_id, name="renamed")
    client.set_terminated(run.info.run_id, "KILLED")
    got = client.get_run(run.info.run_id)
    assert (got.info.status, got.info.run_name) == ("KILLED", "renamed")
    assert "gone" not in got.data.tags
    client.delete_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    client.restore_run(run.info.run_id)
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


@scenario
def log_batch_limits_and_non_finite_values(client: mlflow.MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    client.log_batch(
        run_id,
        metrics=[Metric("m", float(i), 1_700_000_000_000 + i, i) for i in range(1000)],
        params=[Param(f"p{i}", str(i)) for i in range(100)],
        tags=[RunTag(f"t{i}", str(i)) for i in range(100)],
    )
    got = client.get_run(run_id)
    assert len(got.data.params) == 100 and len(client.get_metric_history(run_id, "m")) == 1000
    for step, value in enumerate([math.nan, math.inf, -math.inf, 1.5]):
        client.log_metric(run_id, "v", value, step=step)
    history = [m.value for m in client.get_metric_history(run_id, "v")]
    assert math.isnan(history[0]) and history[1:] == [math.inf, -math.inf, 1.5], history
    store = client._tracking_client.store
    too_many = [Metric("x", 1.0, 1, i) for i in range(1001)]
    code = error_code(lambda: store.log_batch(run_id, metrics=too_many, params=[], tags=[]))
    assert code == "INVALID_PARAMETER_VALUE", code


@scenario
def metric_history_over_several_pages(client: mlflow.MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    points = 30_000  # more than one of the client's 25,000-point pages
    for start in range(0, points, 1000):
        client.log_batch(
            run_id, metrics=[Metric("loss", i, 1, i) for i in range(start, start + 1000)]
        )
    history = client.get_metric_history(run_id, "loss")
    assert [m.step for m in history] == list(range(points))


@scenario
def search_runs_filters_order_and_pages(client: mlflow.MlflowClient) -> None:
    experiment_id = client.create_experiment("search")
    for i in range(12):
        run = client.create_run(experiment_id, run_name=f"run-{i:02d}", start_time=1_000 + i)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("m", float(i), 1, 0)],
            params=[Param("p", str(i))],
            tags=[RunTag("parity", "even" if i % 2 == 0 else "odd")],
        )

    def names(filter_string: str, **kwargs: object) -> list[str]:
        runs = client.search_runs([experiment_id], filter_string, **kwargs)  # type: ignore[arg-type]
        return [r.info.run_name for r in runs]

    assert names("metrics.m > 9") == ["run-11", "run-10"]
    assert names("params.p IN ('1', '2')") == ["run-02", "run-01"]
    assert names("tags.parity = 'odd' and metrics.m < 4") == ["run-03", "run-01"]
    assert names("attributes.run_name LIKE 'run-0%' and metrics.m <= 1") == ["run-01", "run-00"]
    assert names("", order_by=["metrics.m ASC"], max_results=3) == ["run-00", "run-01", "run-02"]
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=5, page_token=token)
        seen += [r.info.run_name for r in page]
        token = page.token
        if not token:
            break
    assert seen == [f"run-{i:02d}" for i in reversed(range(12))], seen
    frame = mlflow.search_runs([experiment_id], order_by=["metrics.m DESC"])
    assert list(frame["metrics.m"])[:2] == [11.0, 10.0]


@scenario
def datasets_logged_and_searched(client: mlflow.MlflowClient) -> None:
    import mlflow.data
    import pandas as pd

    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, 0.125]})
    train = mlflow.data.from_pandas(frame, source="s3://bucket/train.csv", name="train")
    experiment = mlflow.set_experiment("with-data")
    with mlflow.start_run(run_name="reads-train") as run:
        mlflow.log_input(train, context="training")
    with mlflow.start_run(run_name="reads-nothing"):
        pass
    (logged,) = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest) == ("train", train.digest)
    ids = [experiment.experiment_id]
    for filter_string in (
        "datasets.name = 'train'",
        f"datasets.digest = '{train.digest}'",
        "datasets.context = 'training'",
    ):
        found = [r.info.run_name for r in client.search_runs(ids, filter_string)]
        assert found == ["reads-train"], (filter_string, found)


@scenario
def registry_end_to_end(client: mlflow.MlflowClient) -> None:
    client.create_registered_model("reg", tags={"team": "a"}, description="first")
    run = client.create_run("0")
    versions = [
        client.create_model_version("reg", f"{run.info.artifact_uri}/model", run.info.run_id)
        for _ in range(3)
    ]
    assert [v.version for v in versions] == ["1", "2", "3"]
    client.set_registered_model_alias("reg", "champion", "2")
    assert client.get_model_version_by_alias("reg", "champion").version == "2"
    client.transition_model_version_stage("reg", "3", "Production")
    latest = client.get_latest_versions("reg", stages=["Production"])
    assert [v.version for v in latest] == ["3"]
    client.set_model_version_tag("reg", "1", "k", "v")
    assert client.get_model_version("reg", "1").tags == {"k": "v"}
    client.update_model_version("reg", "1", description="one")
    found = client.search_model_versions("name = 'reg' and tag.k = 'v'")
    assert [v.version for v in found] == ["1"]
    assert [m.name for m in client.search_registered_models("name LIKE 're%'")] == ["reg"]
    client.rename_registered_model("reg", "reg2")
    assert client.get_registered_model("reg2").aliases == {"champion": "2"}
    client.delete_model_version("reg2", "1")
    client.delete_registered_model_alias("reg2", "champion")
    client.delete_registered_model("reg2")
    code = error_code(lambda: client.get_registered_model("reg2"))
    assert code == "RESOURCE_DOES_NOT_EXIST", code


@scenario
def errors_are_mlflow_exceptions(client: mlflow.MlflowClient) -> None:
    assert error_code(lambda: client.get_run(uuid.uuid4().hex)) == "RESOURCE_DOES_NOT_EXIST"
    client.create_experiment("dup")
    assert error_code(lambda: client.create_experiment("dup")) == "RESOURCE_ALREADY_EXISTS"
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "p", "1")
    assert error_code(lambda: client.log_param(run_id, "p", "2")) == "INVALID_PARAMETER_VALUE"
    code = error_code(lambda: client.search_runs(["0"], filter_string="metrics.loss <"))
    assert code == "INVALID_PARAMETER_VALUE", code


@scenario
def sklearn_log_model_register_and_load(client: mlflow.MlflowClient) -> None:
    """2.x logs a model with ``runs/log-model`` and artifacts under the run; the registered
    version loads in a fresh process."""
    import mlflow.sklearn
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [1.0, 3.0, 5.0])
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, "model", registered_model_name="line")
    history = json.loads(client.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert [entry["artifact_path"] for entry in history] == ["model"], history
    assert "sklearn" in history[0]["flavors"]
    client.set_registered_model_alias("line", "champion", "1")
    for uri in ("models:/line@champion", "models:/line/1", f"runs:/{run.info.run_id}/model"):
        loaded = subprocess.run(
            [sys.executable, "-c", _LOAD, uri],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stderr[-3000:]
        assert json.loads(loaded.stdout.splitlines()[-1]) == [7.0, 9.0], loaded.stdout


_LOAD = (
    "import json, sys, mlflow.pyfunc, pandas as pd; "
    "m = mlflow.pyfunc.load_model(sys.argv[1]); "
    "print(json.dumps([round(float(v), 6) for v in m.predict(pd.DataFrame({0: [3.0, 4.0]}))]))"
)


def main() -> None:
    url, out = sys.argv[1], Path(sys.argv[2])
    wanted = sys.argv[3:] or list(SCENARIOS)
    os.environ["MLFLOW_TRACKING_URI"] = url
    results: dict[str, str | None] = {}
    for name in wanted:
        mlflow.set_tracking_uri(url)
        mlflow.set_registry_uri(url)
        try:
            SCENARIOS[name](mlflow.MlflowClient(url, url))
            results[name] = None
        except Exception:
            results[name] = traceback.format_exc()
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.tracking.fluent._active_experiment_id = None
    out.write_text(json.dumps({"mlflow": mlflow.__version__, "results": results}))


if __name__ == "__main__":
    main()
