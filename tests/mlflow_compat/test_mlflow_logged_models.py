"""MLflow 3's logged models through the real mlflow client: create, params, tags, files,
finalize, search (filter, order, pages), delete; and the server's capability endpoints."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException


def test_logged_model_lifecycle(client: MlflowClient, tmp_path: Path) -> None:
    run_id = client.create_run("0").info.run_id
    model = client.create_logged_model(
        "0", name="forest", source_run_id=run_id, params={"depth": "4"}, model_type="tree"
    )
    assert model.model_id.startswith("m-")
    assert model.artifact_location == f"mlflow-artifacts:/0/models/{model.model_id}/artifacts"
    assert model.status == LoggedModelStatus.PENDING
    assert (model.source_run_id, model.model_type) == (run_id, "tree")

    client.log_model_params(model.model_id, {"trees": "100"})
    with pytest.raises(MlflowException) as changed:
        client.log_model_params(model.model_id, {"depth": "5"})
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    client.set_logged_model_tags(model.model_id, {"stage": "dev", "owner": "ana"})
    client.delete_logged_model_tag(model.model_id, "owner")

    # Not READY before its MLmodel file is there.
    with pytest.raises(MlflowException):
        client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    files = tmp_path / "files"
    (files / "data").mkdir(parents=True)
    (files / "MLmodel").write_text("flavors: {}\n")
    (files / "data" / "weights.bin").write_bytes(b"\x00\x01" * 100)
    client.log_model_artifacts(model.model_id, str(files))
    listed = client.list_logged_model_artifacts(model.model_id)
    assert sorted((f.path, f.is_dir) for f in listed) == [("MLmodel", False), ("data", True)]
    assert [f.path for f in client.list_logged_model_artifacts(model.model_id, "data")] == [
        "data/weights.bin"
    ]
    ready = client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    assert ready.status == LoggedModelStatus.READY

    got = client.get_logged_model(model.model_id)
    assert got.params == {"depth": "4", "trees": "100"}
    assert got.tags == {"stage": "dev"}

    client.delete_logged_model(model.model_id)
    with pytest.raises(MlflowException) as gone:
        client.get_logged_model(model.model_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert not client.search_logged_models(experiment_ids=["0"])


def test_search_logged_models(client: MlflowClient) -> None:
    run_id = client.create_run("0").info.run_id
    other = client.create_experiment("other")
    made = [
        client.create_logged_model(
            "0", name=f"m{n}", source_run_id=run_id, params={"n": str(n)}, tags={"odd": str(n % 2)}
        )
        for n in range(5)
    ]
    client.create_logged_model(other, name="elsewhere")
    newest_first = client.search_logged_models(experiment_ids=["0"])
    assert [m.name for m in newest_first] == ["m4", "m3", "m2", "m1", "m0"]
    odd = client.search_logged_models(
        experiment_ids=["0"],
        filter_string="tags.odd = '1' AND params.n > 1",
        order_by=[{"field_name": "name", "ascending": True}],
    )
    assert [m.name for m in odd] == ["m3"]
    assert [m.model_id for m in client.search_logged_models(["0"], "name = 'm2'")] == [
        made[2].model_id
    ]
    first = client.search_logged_models(["0"], max_results=2)
    second = client.search_logged_models(["0"], max_results=2, page_token=first.token)
    third = client.search_logged_models(["0"], max_results=2, page_token=second.token)
    assert [m.name for m in [*first, *second, *third]] == ["m4", "m3", "m2", "m1", "m0"]
    assert not third.token
    both = client.search_logged_models(["0", other], filter_string="name LIKE 'e%'")
    assert [m.name for m in both] == ["elsewhere"]
    with pytest.raises(MlflowException) as bad:
        client.search_logged_models(["0"], filter_string="nonsense = 1")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_server_info_and_version(modelyard_server: str) -> None:
    for prefix in ("/api/3.0/mlflow", "/ajax-api/3.0/mlflow"):
        info = httpx.get(f"{modelyard_server}{prefix}/server-info").json()
        assert info["multipart_uploads_enabled"] is False  # one streamed PUT is faster
        assert info["multipart_downloads_enabled"] is False
        assert info["workspaces_enabled"] is True
    version = httpx.get(f"{modelyard_server}/version")
    assert version.status_code == 200
    assert version.text[:1].isdigit()
