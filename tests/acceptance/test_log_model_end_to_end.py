"""``run.log_model`` against a real server, then downloading the version by ``models:/`` URI
from the client and with ``modelyard models download``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import modelyard

import modelyard as my
from modelyard.errors import InvalidInput, NotFound

# A version source inside the server's own artifacts (the only kind it accepts).
SRC = "runs:/" + "5" * 32


def test_log_register_and_download_a_model(server_url: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "weights").mkdir(parents=True)
    (model_dir / "weights" / "w.bin").write_bytes(bytes(range(256)) * 4000)
    (model_dir / "config.json").write_text('{"layers": 3}')
    with my.start_run(experiment="models", url=server_url) as run:
        run.log_input("train", digest="t1", context="training")
        logged = run.log_model(
            model_dir,
            name="clf",
            flavor="sklearn",
            signature={"inputs": [{"name": "x", "type": "double"}]},
            framework_versions={"sklearn": "1.5.0"},
        )
        (model_dir / "MLmodel").write_text("{}")
        with pytest.raises(InvalidInput, match="MLmodel"):
            run.log_model(model_dir, name="clash")
        (model_dir / "MLmodel").unlink()
    assert logged["status"] == "READY" and logged["flavor"] == "sklearn"
    assert logged["metadata"]["framework_versions"] == {"sklearn": "1.5.0"}
    model_id = logged["model_id"]
    with my.Client(server_url) as client:
        version = client.register_version("clf", f"models:/{model_id}", model_id=model_id)
        client.set_alias("clf", "champion", version["version"])
        by_alias = client.download_model("models:/clf@champion", tmp_path / "a")
        assert sorted(p.relative_to(tmp_path / "a").as_posix() for p in by_alias) == [
            "MLmodel",
            "config.json",
            "weights/w.bin",
        ]
        assert (tmp_path / "a" / "weights" / "w.bin").read_bytes() == bytes(range(256)) * 4000
        metadata = json.loads((tmp_path / "a" / "MLmodel").read_text())
        assert metadata["flavors"] == {"sklearn": {}} and metadata["model_id"] == model_id
        assert metadata["signature"] == {"inputs": [{"name": "x", "type": "double"}]}
        client.register_version("clf", f"{SRC}/elsewhere")
        with pytest.raises(NotFound, match="not registered from a logged model"):
            client.download_model("models:/clf/latest", tmp_path / "b")
        graph = client.lineage("models:/clf@champion")
        kinds = {(e["kind"], e["target"]) for e in graph["edges"]}
        assert ("registered", "models:/clf/1") in kinds and (
            "logged",
            f"logged_model:{model_id}",
        ) in kinds

    env = {"MODELYARD_URL": server_url}
    out = tmp_path / "cli"
    done = modelyard("models", "download", "models:/clf/1", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert "downloaded 3 files" in done.stdout
    assert (out / "config.json").read_text() == '{"layers": 3}'
    missing = modelyard("models", "download", "models:/nope/1", "-o", str(out), env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: registered model 'nope'")
