"""The artifact proxy's path rules: only the run and logged-model layouts, nothing else."""

from __future__ import annotations

import uuid

import pytest

from modelyard.errors import InvalidArtifactPath
from modelyard.server.mlflow import _artifact_paths

RUN = uuid.UUID(int=7)
MODEL = "m-" + "a" * 32


def test_run_and_model_layouts() -> None:
    run = _artifact_paths.parse(f"3/{RUN.hex}/artifacts/dir/file.txt")
    assert (run.experiment_id, run.run_id, run.model_id, run.rest) == (3, RUN, None, "dir/file.txt")
    assert run.root == f"3/{RUN.hex}/artifacts"
    root = _artifact_paths.parse(f"0/{RUN.hex}/artifacts/")
    assert root.rest == ""
    model = _artifact_paths.parse(f"0/models/{MODEL}/artifacts/MLmodel")
    assert (model.run_id, model.model_id, model.rest) == (None, MODEL, "MLmodel")
    assert (
        _artifact_paths.logged_model_uri(0, MODEL)
        == f"mlflow-artifacts:/0/models/{MODEL}/artifacts"
    )


@pytest.mark.parametrize(
    "path",
    [
        "",
        "0",
        "etc/passwd",
        f"0/{RUN.hex}",
        f"0/{RUN.hex}/elsewhere/x",
        f"x/{RUN.hex}/artifacts/a",
        f"0/{RUN.hex}/artifacts/../../x",
        f"0/{RUN.hex}/artifacts/a/%2e%2e/b",
        f"0/{RUN.hex}/artifacts/a\\b",
        "0/models/m-short/artifacts/x",
        f"0/models/{MODEL}/files/x",
        f"0/models/{MODEL.upper()}/artifacts/x",
    ],
)
def test_other_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidArtifactPath):
        _artifact_paths.parse(path)
