"""Latency of MLflow's ``runs/get`` on ``modelyard server``: raw httpx, one worker, embedded PG.

A run with 20 params, 10 tags and a metric, created through the mlflow client; then 30 warm-up
calls and 300 timed ones, and as many ``GET /health`` calls as the HTTP floor of the same run.

    PYTHONPATH=src:. .venv/bin/python -m bench.mlflow_run_get
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import mlflow
from mlflow.entities import Metric, Param

from bench._postgres import embedded_postgres
from bench._servers import modelyard_server
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.db.migrate import upgrade

CALLS, WARM_UP = 300, 30


def _p50(client: httpx.Client, path: str, params: dict[str, str]) -> float:
    for _ in range(WARM_UP):
        client.get(path, params=params).raise_for_status()
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp) / "pg") as pg:
        dsn = pg.create_database("bench_run_get")
        upgrade(dsn, DEFAULT_SCHEMA)
        with modelyard_server(dsn, 1, Path(tmp)) as server:
            ml = mlflow.MlflowClient(server.base_url)
            run_id = ml.create_run("0", tags={f"t{i}": "x" for i in range(10)}).info.run_id
            ml.log_batch(
                run_id,
                params=[Param(f"p{i}", "1") for i in range(20)],
                metrics=[Metric("m", 1.0, 1, 0)],
            )
            with httpx.Client(base_url=server.base_url) as client:
                get = _p50(client, "/api/2.0/mlflow/runs/get", {"run_id": run_id})
                health = _p50(client, "/health", {})
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"runs/get p50 {get:.2f} ms; GET /health p50 {health:.2f} ms; load {load}")


if __name__ == "__main__":
    main()
