"""The README's five-minute tour, step by step, as a user would type it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cli_support import free_port, modelyard

import modelyard as my


def test_the_tour(server_url: str) -> None:
    env = {"MODELYARD_URL": server_url}
    with my.start_run(experiment="mnist", name="baseline", url=server_url) as run:
        run.log_params({"lr": 0.01, "optimizer": "adam"})
        run.set_tag("team", "vision")
        for step in range(1000):
            run.log_metrics({"loss": 1 / (step + 1), "acc": step / 1000}, step=step)

    listed = modelyard("experiments", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "mnist" in listed.stdout

    found = modelyard(
        "runs",
        "search",
        "-e",
        "mnist",
        "metrics.loss < 0.01 and params.optimizer = 'adam'",
        "--json",
        env=env,
    )
    assert found.returncode == 0, found.stderr
    assert [r["run_id"] for r in json.loads(found.stdout)] == [run.id]

    either = modelyard(
        "runs",
        "search",
        "-e",
        "mnist",
        "params.lr > 0.001 or tags.team LIKE 'vis%'",
        "-o",
        "metrics.acc DESC",
        env=env,
    )
    assert either.returncode == 0, either.stderr
    assert run.id in either.stdout

    shown = modelyard("runs", "show", run.id, "--json", env=env)
    assert json.loads(shown.stdout)["params"]["optimizer"] == "adam"

    created = modelyard(
        "versions",
        "create",
        "mnist-classifier",
        "--source",
        f"runs:/{run.id}/model",
        "--run-id",
        run.id,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    aliased = modelyard("models", "alias", "set", "mnist-classifier", "champion", "1", env=env)
    assert aliased.returncode == 0, aliased.stderr
    resolved = modelyard(
        "models", "alias", "show", "mnist-classifier", "champion", "--json", env=env
    )
    assert json.loads(resolved.stdout)["version"] == 1

    client = my.Client(server_url)
    version = client.register_version("mnist-classifier", f"runs:/{run.id}/model", run_id=run.id)
    client.set_alias("mnist-classifier", "champion", version["version"])
    assert client.get_version_by_alias("mnist-classifier", "champion")["version"] == 2
    client.close()


def test_the_tour_of_datasets(
    server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text("pixels,label\n0,7\n")
    Path("predictions.csv").write_text("label\n7\n")
    with my.start_run(experiment="mnist", url=server_url) as run:
        run.log_input("mnist-train", path="train.csv", context="training")
        run.log_output("mnist-predictions", path="predictions.csv")
    with my.Client(server_url) as client:
        client.register_version("mnist-classifier", f"runs:/{run.id}/model", run_id=run.id)
    env = {"MODELYARD_URL": server_url}
    listed = modelyard("datasets", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "mnist-train" in listed.stdout and "mnist-predictions" in listed.stdout
    shown = modelyard("datasets", "show", "mnist-train", env=env)
    assert shown.returncode == 0, shown.stderr
    assert hashlib.sha256(b"pixels,label\n0,7\n").hexdigest() in shown.stdout
    Path("model").mkdir()
    Path("model/weights.pt").write_bytes(b"\x00" * 100)
    with my.start_run(experiment="mnist", url=server_url) as trained:
        model = trained.log_model(
            "model/", name="mnist-cnn", flavor="pytorch", framework_versions={"torch": "2.5"}
        )
    with my.Client(server_url) as client:
        client.register_version(
            "mnist-cnn", f"models:/{model['model_id']}", model_id=model["model_id"]
        )
    served = modelyard("models", "download", "models:/mnist-cnn/latest", "-o", "./served", env=env)
    assert served.returncode == 0, served.stderr
    assert Path("served/weights.pt").read_bytes() == b"\x00" * 100
    lineage = modelyard("lineage", "models:/mnist-classifier/latest", env=env)
    assert lineage.returncode == 0, lineage.stderr
    assert "input (training) <- dataset mnist-train@" in lineage.stdout


def test_cli_errors_are_one_line(server_url: str) -> None:
    env = {"MODELYARD_URL": server_url}
    bad = modelyard("runs", "search", "-e", "nope", "metrics.loss <", env=env)
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: ")
    assert bad.stderr.count("\n") == 1

    malformed = modelyard("experiments", "create", "x", env=env)
    assert malformed.returncode == 0
    syntax = modelyard("runs", "search", "-e", "x", "metrics.loss <", env=env)
    assert syntax.returncode == 1
    assert "position" in syntax.stderr or "expected" in syntax.stderr
    assert "Traceback" not in syntax.stderr

    down = modelyard(
        "experiments", "list", env={"MODELYARD_URL": f"http://127.0.0.1:{free_port()}"}
    )
    assert down.returncode == 1
    assert down.stderr.startswith("error: cannot reach modelyard")
