"""What the mlflow client logs is what our lineage queries and CLI show: a dataset read by a run
(``mlflow.log_input``), a model version registered from the run with an alias, and the lineage
of ``models:/NAME@champion`` through our API and ``modelyard lineage`` as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import mlflow
import mlflow.data
import pandas as pd
from mlflow import MlflowClient


def test_lineage_of_a_version_logged_with_the_mlflow_client(
    tracking_uri: str, client: MlflowClient
) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    dataset = mlflow.data.from_pandas(frame, source="s3://bucket/features.csv", name="features")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_text("artifact_path: model\n", "model/MLmodel")
    run_id = run.info.run_id
    client.create_registered_model("churn")
    version = client.create_model_version("churn", f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias("churn", "champion", version.version)

    graph = httpx.get(
        f"{tracking_uri}/api/v1/lineage", params={"uri": "models:/churn@champion"}
    ).json()
    nodes = {node["id"] for node in graph["nodes"]}
    dataset_node = f"dataset:features@{dataset.digest}"
    assert {"models:/churn/1", f"run:{run_id}", dataset_node} <= nodes
    edges = {(e["source"], e["target"], e["kind"]) for e in graph["edges"]}
    assert (dataset_node, f"run:{run_id}", "input") in edges

    argv = [sys.executable, "-m", "modelyard", "lineage", "models:/churn@champion", "--json"]
    shown = subprocess.run(
        [*argv, "--url", tracking_uri],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert {node["id"] for node in json.loads(shown.stdout)["nodes"]} == nodes
