"""Datasets as a user meets them: ``run.log_input``/``log_output`` in training code against a real
server, then ``modelyard datasets list/show`` as subprocesses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cli_support import modelyard

import modelyard as my
from modelyard.client._digest import path_digest
from modelyard.errors import InvalidInput, NotFound


def test_digest_of_a_directory_depends_on_names_and_contents_only(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        (root / "sub").mkdir(parents=True)
        (root / "a.csv").write_bytes(b"x,y\n1,2\n")
        (root / "sub" / "b.bin").write_bytes(b"\x00\x01")
    assert path_digest(one) == path_digest(two)
    (two / "sub" / "b.bin").write_bytes(b"\x00\x02")
    assert path_digest(one) != path_digest(two)
    assert path_digest(one / "a.csv") == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    with pytest.raises(InvalidInput):
        path_digest(tmp_path / "missing")


def test_training_code_logs_datasets_and_the_cli_shows_them(
    server_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "iris.csv"
    data.write_bytes(b"sepal,petal\n5.1,1.4\n")
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    with my.start_run(experiment="e2e", url=server_url) as run:
        version = run.log_input("iris", path=data, context="training", row_count=1)
        again = run.log_input("iris", path=data, context="validation")
        run.log_output("predictions", digest="p-1", schema={"cols": ["label"]})
        with pytest.raises(InvalidInput):
            run.log_input("iris")  # neither a digest nor a path
    assert version["digest"] == digest and again == version
    assert version["source"] == data.resolve().as_uri() and version["source_type"] == "local"
    with my.Client(server_url) as client:
        inputs = client.get_run_inputs(run.id)
        assert [i["context"] for i in inputs] == ["training", "validation"]
        outputs = client.get_run_outputs(run.id)
        assert outputs[0]["dataset"]["schema"] == {"cols": ["label"]}
        with pytest.raises(NotFound):
            client.get_dataset_version("iris", "nope")

    env = {"MODELYARD_URL": server_url}
    listed = modelyard("datasets", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [d["name"] for d in json.loads(listed.stdout)] == ["iris", "predictions"]
    table = modelyard("datasets", "show", "iris", env=env)
    assert table.returncode == 0, table.stderr
    assert "version_count" in table.stdout and digest in table.stdout
    one = modelyard("datasets", "show", "iris", "--digest", digest, "--json", env=env)
    assert json.loads(one.stdout)["row_count"] == 1
    missing = modelyard("datasets", "show", "nope", env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: dataset 'nope'")
    assert len(missing.stderr.splitlines()) == 1
