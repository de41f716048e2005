"""End to end with a real model: sklearn autologging, registration, an alias, and loading the
model back in a fresh process by alias, by version and by the logged model's own URI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import mlflow
import numpy as np
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

_LOAD = """
import json, sys
import mlflow, numpy as np
rows = np.array(json.loads(sys.argv[2]))
model = mlflow.pyfunc.load_model(sys.argv[1])
print(json.dumps(np.asarray(model.predict(rows)).tolist()))
"""


def _predict_in_fresh_process(uri: str, rows: np.ndarray, tracking_uri: str) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", _LOAD, uri, json.dumps(rows.tolist())],
        capture_output=True,
        text=True,
        timeout=300,
        env={"MLFLOW_TRACKING_URI": tracking_uri, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def test_autolog_register_alias_and_load_elsewhere(
    client: MlflowClient, tracking_uri: str, modelyard_server: str, tmp_path: Path
) -> None:
    features, labels = load_iris(return_X_y=True)
    mlflow.sklearn.autolog(log_input_examples=False, log_datasets=False, silent=True)
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression(max_iter=300).fit(features, labels)
    finally:
        mlflow.sklearn.autolog(disable=True)
    expected = model.predict(features[:10]).tolist()

    logged = client.search_logged_models(experiment_ids=[run.info.experiment_id])
    assert [m.source_run_id for m in logged] == [run.info.run_id]
    model_id = logged[0].model_id
    assert str(logged[0].status) == "READY"

    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "iris")
    assert (version.version, version.source) == ("1", f"models:/{model_id}")
    client.set_registered_model_alias("iris", "champion", version.version)

    rows = features[:10]
    for uri in ["models:/iris@champion", "models:/iris/1", f"models:/{model_id}"]:
        assert _predict_in_fresh_process(uri, rows, tracking_uri) == expected, uri

    # The same version and logged model through our own API.
    ours = httpx.get(f"{modelyard_server}/api/v1/models/iris/versions/1").json()
    assert (ours["model_id"], ours["run_id"]) == (model_id, run.info.run_id)
    files = httpx.get(
        f"{modelyard_server}/api/v1/runs/{run.info.run_id}/artifacts",
        params={"path": f"models/{model_id}"},
    ).json()
    assert "MLmodel" in {f["name"] for f in files["files"]}
