"""The real mlflow client against a server with authentication on: tokens as the client sends
them (``MLFLOW_TRACKING_TOKEN`` as Bearer, ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` as Basic
with a token as the password) and MLflow 3's workspace selection (``MLFLOW_WORKSPACE``, sent as
``X-MLFLOW-WORKSPACE`` once ``server-info`` says workspaces are enabled)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import psycopg
import pytest
from mlflow.exceptions import MlflowException
from mlflow_server import started_server

from modelyard.auth import admin
from modelyard.auth.access import Role
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema

ENV = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_WORKSPACE",
)


@pytest.fixture
def tokens(database_url: str) -> dict[str, str]:
    """ed edits default, vic edits vision."""
    made = {}
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.create_workspace(conn, "vision")
        for name, workspace in (("ed", "default"), ("vic", "vision")):
            admin.create_user(conn, name, admin=False, service=False)
            admin.add_member(conn, workspace, name, Role.EDITOR)
            made[name] = admin.create_token(conn, name, workspace=None, expires_in=None)["token"]
    return made


@pytest.fixture
def secured(
    runtime_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[mlflow.MlflowClient]:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    # As the runtime role: with --auth the server refuses a role that row-level security
    # would not bind (the superuser of database_url).
    with started_server(runtime_url, tmp_path, "--auth") as server:
        yield mlflow.MlflowClient(tracking_uri=server.url, registry_uri=server.url)


def _names(client: mlflow.MlflowClient) -> set[str]:
    return {e.name for e in client.search_experiments()}


def test_without_a_token_the_client_is_refused(secured: mlflow.MlflowClient) -> None:
    with pytest.raises(MlflowException) as refused:
        secured.search_experiments()
    assert refused.value.get_http_status_code() == 401


def _workspace_of(database_url: str, experiment: str) -> str:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        row = conn.execute(
            "SELECT w.name FROM experiment e JOIN workspace w USING (workspace_id)"
            " WHERE e.name = %s",
            [experiment],
        ).fetchone()
    assert row is not None
    return str(row[0])


def _as_vic_in(workspace: str, token: str, monkeypatch: pytest.MonkeyPatch, url: str) -> Any:
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "vic")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", token)
    monkeypatch.setenv("MLFLOW_WORKSPACE", workspace)
    return mlflow.MlflowClient(tracking_uri=url)


def test_a_bearer_token_and_a_basic_password_act_in_their_workspaces(
    secured: mlflow.MlflowClient,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tokens["ed"])
    secured.create_experiment("ed-default")
    assert "ed-default" in _names(secured)
    assert _workspace_of(database_url, "ed-default") == "default"

    vision = _as_vic_in("vision", tokens["vic"], monkeypatch, secured.tracking_uri)
    vision.create_experiment("vic-vision")
    assert _workspace_of(database_url, "vic-vision") == "vision"
    assert [w.name for w in vision.list_workspaces()] == ["vision"]

    outsider = _as_vic_in("default", tokens["vic"], monkeypatch, secured.tracking_uri)
    with pytest.raises(MlflowException) as refused:
        outsider.search_experiments()
    assert refused.value.get_http_status_code() == 403


def test_the_client_sees_only_its_workspace(
    secured: mlflow.MlflowClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tokens["ed"])
    secured.create_experiment("ed-default")
    vision = _as_vic_in("vision", tokens["vic"], monkeypatch, secured.tracking_uri)
    vision.create_experiment("vic-vision")
    assert _names(vision) == {"vic-vision"}
    assert vision.get_experiment_by_name("ed-default") is None


def test_a_wrong_password_is_refused(
    secured: mlflow.MlflowClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ed")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", tokens["ed"][:-4] + "0000")
    with pytest.raises(MlflowException) as refused:
        secured.search_experiments()
    assert refused.value.get_http_status_code() == 401
