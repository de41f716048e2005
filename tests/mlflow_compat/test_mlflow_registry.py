"""The model registry end to end through the real mlflow client: models, versions, aliases,
stages, tags, search, rename and delete, and errors as MLflow's own exceptions."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException


def _run_with_model(client: MlflowClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A run holding a file at ``model/MLmodel`` (uploaded through the artifact proxy)."""
    run = client.create_run("0")
    folder = tmp_path_factory.mktemp("model")
    (folder / "MLmodel").write_text("flavors: {}\n")
    client.log_artifact(run.info.run_id, str(folder / "MLmodel"), "model")
    return str(run.info.run_id)


def test_registered_model_lifecycle(client: MlflowClient) -> None:
    created = client.create_registered_model(
        "fraud", tags={"team": "risk", "tier": "1"}, description="flags fraud"
    )
    assert created.name == "fraud"
    assert created.tags == {"team": "risk", "tier": "1"}
    assert created.description == "flags fraud"
    with pytest.raises(MlflowException) as taken:
        client.create_registered_model("fraud")
    assert taken.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.update_registered_model("fraud", description="flags fraud, v2")
    client.set_registered_model_tag("fraud", "owner", "ana")
    client.delete_registered_model_tag("fraud", "tier")
    got = client.get_registered_model("fraud")
    assert got.description == "flags fraud, v2"
    assert got.tags == {"team": "risk", "owner": "ana"}
    assert got.creation_timestamp <= got.last_updated_timestamp

    client.rename_registered_model("fraud", "fraud-detector")
    assert client.get_registered_model("fraud-detector").tags == {"team": "risk", "owner": "ana"}
    with pytest.raises(MlflowException) as gone:
        client.get_registered_model("fraud")
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.delete_registered_model("fraud-detector")
    with pytest.raises(MlflowException) as deleted:
        client.get_registered_model("fraud-detector")
    assert deleted.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_search_registered_models(client: MlflowClient) -> None:
    for name, team in [("alpha", "a"), ("beta", "b"), ("gamma", "a"), ("delta", "b")]:
        client.create_registered_model(name, tags={"team": team})
    assert [m.name for m in client.search_registered_models("name LIKE '%a'")] == [
        "alpha",
        "beta",
        "delta",
        "gamma",
    ]
    by_tag = client.search_registered_models("tags.team = 'a'", order_by=["name DESC"])
    assert [m.name for m in by_tag] == ["gamma", "alpha"]
    assert [m.name for m in client.search_registered_models("tags.`team` = 'b'")] == [
        "beta",
        "delta",
    ]
    # Our extension of the grammar is there too.
    either = client.search_registered_models("name = 'alpha' OR name = 'delta'")
    assert [m.name for m in either] == ["alpha", "delta"]
    first = client.search_registered_models(max_results=3)
    assert [m.name for m in first] == ["alpha", "beta", "delta"]
    assert first.token is not None
    second = client.search_registered_models(max_results=3, page_token=first.token)
    assert [m.name for m in second] == ["gamma"]
    assert not second.token
    with pytest.raises(MlflowException) as bad:
        client.search_registered_models("name LIKE")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"


def test_versions_aliases_stages(
    client: MlflowClient, tmp_path_factory: pytest.TempPathFactory, modelyard_server: str
) -> None:
    run_id = _run_with_model(client, tmp_path_factory)
    client.create_registered_model("churn")
    versions = [
        client.create_model_version(
            "churn", f"runs:/{run_id}/model", run_id=run_id, tags={"n": str(n)}
        )
        for n in range(1, 4)
    ]
    assert [v.version for v in versions] == ["1", "2", "3"]
    assert versions[0].run_id == run_id
    assert versions[0].status == "READY"
    assert versions[0].current_stage == "None"

    client.set_registered_model_alias("churn", "champion", "2")
    client.set_registered_model_alias("churn", "challenger", 3)
    champion = client.get_model_version_by_alias("churn", "champion")
    assert (champion.version, champion.aliases) == ("2", ["champion"])
    assert client.get_registered_model("churn").aliases == {"champion": "2", "challenger": "3"}
    client.set_registered_model_alias("churn", "champion", "3")
    assert client.get_model_version_by_alias("churn", "champion").version == "3"
    client.delete_registered_model_alias("churn", "challenger")
    with pytest.raises(MlflowException) as no_alias:
        client.get_model_version_by_alias("churn", "challenger")
    assert no_alias.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.transition_model_version_stage("churn", "1", "Production")
    moved = client.transition_model_version_stage(
        "churn", "2", "production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version("churn", "1").current_stage == "Archived"
    latest = client.get_latest_versions("churn", stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    assert {v.version for v in client.get_latest_versions("churn")} == {"1", "2", "3"}

    client.update_model_version("churn", "3", description="the best")
    client.set_model_version_tag("churn", "3", "validated", "yes")
    client.delete_model_version_tag("churn", "3", "n")
    third = client.get_model_version("churn", "3")
    assert third.description == "the best"
    assert third.tags == {"validated": "yes"}

    uri = client.get_model_version_download_uri("churn", "1")
    assert uri == f"mlflow-artifacts:/0/{run_id}/artifacts/model"

    found = client.search_model_versions("name = 'churn' and tags.validated = 'yes'")
    assert [v.version for v in found] == ["3"]
    paged = client.search_model_versions("name = 'churn'", max_results=2)
    assert [v.version for v in paged] == ["3", "2"]
    rest = client.search_model_versions("name = 'churn'", max_results=2, page_token=paged.token)
    assert [v.version for v in rest] == ["1"]
    ordered = client.search_model_versions("name='churn'", order_by=["version_number ASC"])
    assert [v.version for v in ordered] == ["1", "2", "3"]

    client.delete_model_version("churn", "1")
    with pytest.raises(MlflowException) as no_version:
        client.get_model_version("churn", "1")
    assert no_version.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # The same versions through our own API and CLI.
    ours = httpx.get(f"{modelyard_server}/api/v1/models/churn/versions").json()
    assert [(v["version"], v["run_id"]) for v in ours["items"]] == [(3, run_id), (2, run_id)]
    shown = subprocess.run(
        [sys.executable, "-m", "modelyard", "versions", "list", "churn", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "MODELYARD_URL": modelyard_server},
    )
    listed = json.loads(shown.stdout)
    rows = listed["items"] if isinstance(listed, dict) else listed
    assert [(v["version"], v["current_stage"]) for v in rows] == [(3, "None"), (2, "Production")]


def test_version_sources_must_be_served_here(
    client: MlflowClient, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_id = _run_with_model(client, tmp_path_factory)
    client.create_registered_model("safe")
    for source in ["/etc/passwd", "file:///etc/passwd", "s3://bucket/model", "../model"]:
        with pytest.raises(MlflowException) as refused:
            client.create_model_version("safe", source, run_id=run_id)
        assert refused.value.error_code == "INVALID_PARAMETER_VALUE", source
    with pytest.raises(MlflowException) as missing:
        client.create_model_version("safe", f"runs:/{'0' * 32}/model")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as elsewhere:
        client.create_model_version("safe", f"mlflow-artifacts:/7/{run_id}/artifacts/model")
    assert elsewhere.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    proxied = client.create_model_version("safe", f"mlflow-artifacts:/0/{run_id}/artifacts/model")
    assert proxied.run_id == run_id  # implied by the source
    assert not client.search_model_versions("name = 'safe' and version_number > 1")


def test_missing_parameters_are_mlflow_errors(client: MlflowClient) -> None:
    with pytest.raises(RestException) as no_name:
        client.get_registered_model("")
    assert no_name.value.error_code == "INVALID_PARAMETER_VALUE"
