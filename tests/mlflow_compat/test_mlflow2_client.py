"""The newest MLflow 2.x client against a running modelyard server (the issue's second job).

The 2.x client lives in its own venv (``mlflow2_venv``) and plays ``mlflow2_scenarios.py`` in one
subprocess per server kind (one server start, one client import), which keeps the job to a few
seconds beyond the first install. Each scenario's failure is reported by its name.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import mlflow2_venv

SCRIPT = Path(__file__).with_name("mlflow2_scenarios.py")
SCENARIOS = {
    "fluent_run_in_the_default_experiment",
    "experiment_lifecycle_and_search",
    "nested_runs_and_run_lifecycle",
    "log_batch_limits_and_non_finite_values",
    "metric_history_over_several_pages",
    "search_runs_filters_order_and_pages",
    "datasets_logged_and_searched",
    "registry_end_to_end",
    "errors_are_mlflow_exceptions",
    "sklearn_log_model_register_and_load",
}


def test_the_mlflow2_client_plays_every_scenario(modelyard_server: str, tmp_path: Path) -> None:
    python = mlflow2_venv.ensure()
    out = tmp_path / "results.json"
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "PYTHON"))
    }
    env |= {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        "HOME": str(tmp_path),
    }
    played = subprocess.run(
        [str(python), str(SCRIPT), modelyard_server, str(out)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert played.returncode == 0, played.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["mlflow"] == mlflow2_venv.MLFLOW2_VERSION
    assert set(report["results"]) == SCENARIOS
    failed = {name: trace for name, trace in report["results"].items() if trace is not None}
    assert not failed, "\n".join(f"--- {name}\n{trace}" for name, trace in failed.items())
