"""Fixtures of the MLflow compatibility suite: the real ``mlflow`` client against a running
``modelyard server`` subprocess over a fresh database.

The client is configured per test (``mlflow.set_tracking_uri``), so tests share nothing but the
PostgreSQL server. The client's own warnings (deprecated stages, pip inference, pydantic) are not
ours to fix and are ignored in this directory; every other warning still fails a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow_server import RunningServer, started_server

mlflow = pytest.importorskip("mlflow")

_CLIENT_WARNINGS = (
    "ignore::FutureWarning",
    "ignore::DeprecationWarning",
    "ignore::UserWarning",
    "ignore::PendingDeprecationWarning",
    "ignore::ResourceWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            for spec in _CLIENT_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture
def running_server(runtime_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A ``modelyard server`` process over a fresh database, stopped after the test."""
    with started_server(runtime_url, tmp_path) as server:
        yield server


@pytest.fixture
def modelyard_server(running_server: RunningServer) -> str:
    """URL of the server."""
    return running_server.url


@pytest.fixture
def tracking_uri(modelyard_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The mlflow client pointed at the server (as ``MLFLOW_TRACKING_URI`` would)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", modelyard_server)
    # An error answer reaches the test at once, not after the client's backoff.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    # The fluent API remembers the experiment an earlier test set, whose id belongs to another
    # database: without this, start_run() in the next test on the worker asks for it and fails.
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_tracking_uri(modelyard_server)
    mlflow.set_registry_uri(modelyard_server)
    try:
        yield modelyard_server
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)


@pytest.fixture
def client(tracking_uri: str) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
