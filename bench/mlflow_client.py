"""One mlflow-client workload against ``mlflow server`` and ``modelyard server``, same PostgreSQL.

The same code (the real ``mlflow`` client of our venv, ``MlflowClient``) runs against each
server in turn: run creation with 20 params and 10 tags, ``log_batch`` of 1,000 points,
single ``log_metric`` calls, ``search_runs`` (filtered and ordered; and 1,000 rows unfiltered)
over the runs it made, and ``get_metric_history`` of 1,000 points. Every figure is a rate or a
median measured by this one client, so the ratio is what a user of the mlflow client would see.

    PYTHONPATH=src:. .venv/bin/python -m bench.mlflow_client --runs 300 --mlflow PATH/bin/mlflow

Without an ``mlflow`` executable (a separate venv, as bench/README.md says) only modelyard is
measured. Results go to ``bench/results/mlflow_client.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param

from bench._postgres import embedded_postgres
from bench._servers import mlflow_server, mlflow_upgrade, modelyard_server
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.db.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (
    ROOT / ".venv-mlflow/bin/mlflow",
    Path("/tmp/mlflow-venv/bin/mlflow"),
    Path("/tmp/ui-mlflow-venv/bin/mlflow"),
)


def _rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def _median_ms(call: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(samples), 2)


def workload(url: str, runs: int, seconds: float) -> dict[str, Any]:
    """The figures of one server, measured through ``MlflowClient``."""
    client = mlflow.MlflowClient(url)
    experiment_id = client.create_experiment(f"bench-{time.time_ns()}")
    params = [Param(f"p{i}", str(i)) for i in range(20)]
    run_ids: list[str] = []
    start = time.perf_counter()
    for i in range(runs):
        tags = {f"t{j}": str(j) for j in range(9)} | {"team": "a" if i % 2 else "b"}
        run = client.create_run(experiment_id, tags=tags)
        client.log_batch(
            run.info.run_id,
            params=[*params, Param("lr", str(i % 10 / 100))],
            metrics=[Metric("loss", 1 / (i + 1), 1, 0)],
        )
        run_ids.append(run.info.run_id)
    creation = _rate(runs, time.perf_counter() - start)

    target = run_ids[0]
    points = 0
    step = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = [Metric("curve", float(s), 1, s) for s in range(step, step + 1000)]
        client.log_batch(target, metrics=batch)
        points += 1000
        step += 1000
    batch_rate = _rate(points, time.perf_counter() - start)

    calls = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        client.log_metric(run_ids[1], "single", float(calls), step=calls)
        calls += 1
    single_rate = _rate(calls, time.perf_counter() - start)

    client.log_batch(run_ids[2], metrics=[Metric("h", float(s), 1, s) for s in range(1000)])
    filtered = _median_ms(
        lambda: client.search_runs(
            [experiment_id],
            "metrics.loss < 0.5 and params.lr = '0.01'",
            order_by=["metrics.loss ASC"],
            max_results=100,
        ),
        20,
    )
    unfiltered = _median_ms(lambda: client.search_runs([experiment_id], max_results=1000), 5)
    history = _median_ms(lambda: client.get_metric_history(run_ids[2], "h"), 20)
    return {
        "runs_per_s (20 params, 10 tags)": creation,
        "log_batch points/s": batch_rate,
        "log_metric calls/s": single_rate,
        f"search_runs filtered+ordered over {runs} runs, ms": filtered,
        f"search_runs {min(runs, 1000)} rows unfiltered, ms": unfiltered,
        "get_metric_history 1,000 points, ms": history,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs each server creates")
    parser.add_argument("--seconds", type=float, default=10, help="seconds per ingest figure")
    parser.add_argument("--mlflow", type=Path, default=None, help="mlflow executable (own venv)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/mlflow_client.json")
    args = parser.parse_args()
    mlflow_bin = args.mlflow or next((p for p in CANDIDATES if p.exists()), None)
    results: dict[str, Any] = {"runs": args.runs, "mlflow_client": mlflow.__version__}
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp) / "pg") as pg:
        work = Path(tmp)
        my_dsn = pg.create_database("bench_modelyard")
        upgrade(my_dsn, DEFAULT_SCHEMA)  # the server refuses a database without our schema
        with modelyard_server(my_dsn, 1, work) as server:
            results["modelyard"] = workload(server.base_url, args.runs, args.seconds)
        if mlflow_bin is not None:
            ml_dsn = pg.create_database("bench_mlflow")
            mlflow_upgrade(mlflow_bin, ml_dsn, work)
            with mlflow_server(mlflow_bin, ml_dsn, 1, work, work) as server:
                results["mlflow"] = workload(server.base_url, args.runs, args.seconds)
    if "mlflow" in results:
        results["ratio (modelyard / mlflow; for ms, mlflow / modelyard)"] = {
            key: round(
                results["mlflow"][key] / results["modelyard"][key]
                if key.endswith("ms")
                else results["modelyard"][key] / results["mlflow"][key],
                1,
            )
            for key in results["modelyard"]
        }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
