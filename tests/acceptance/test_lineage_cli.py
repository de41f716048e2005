"""``modelyard lineage`` as a subprocess: the tree a person reads, the JSON graph, errors."""

from __future__ import annotations

import json

from cli_support import modelyard

import modelyard as my

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32


def test_lineage_of_a_model_and_of_a_dataset(server_url: str) -> None:
    with my.start_run(experiment="lineage", name="prep", url=server_url) as prep:
        prep.log_input("raw", digest="r1")
        prep.log_output("features", digest="f1", row_count=10)
    with my.start_run(experiment="lineage", name="train", url=server_url) as train:
        train.log_input("features", digest="f1", context="training")
    with my.Client(server_url) as client:
        client.register_version("churn", f"{SRC}/models/churn/1", run_id=train.id)
        client.set_alias("churn", "champion", 1)

    env = {"MODELYARD_URL": server_url}
    tree = modelyard("lineage", "models:/churn@champion", env=env)
    assert tree.returncode == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert lines[0] == "model churn v1 @champion"
    assert f"registered <- run train {train.id} FINISHED" in lines[1]
    assert "input (training) <- dataset features@f1 (10 rows)" in lines[2]
    assert f"output <- run prep {prep.id}" in lines[3]
    assert "input <- dataset raw@r1" in lines[4]

    graph = json.loads(modelyard("lineage", "models:/churn/1", "--json", env=env).stdout)
    assert graph["root"] == "models:/churn/1" and len(graph["nodes"]) == 5
    assert len(graph["edges"]) == 4

    down = modelyard("lineage", "dataset:raw@r1", "--depth", "1", env=env)
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines()[0] == "dataset raw@r1"
    assert "cut at depth 1" in down.stdout
    full = json.loads(modelyard("lineage", "dataset:raw@r1", "--json", env=env).stdout)
    assert "models:/churn/1" in {n["id"] for n in full["nodes"]}

    bad = modelyard("lineage", "churn", env=env)
    assert bad.returncode == 1 and bad.stderr.startswith("error: cannot read 'churn'")
    assert len(bad.stderr.splitlines()) == 1
