"""Web UI pages at scale: the runs table of a 100,000-run experiment and a 1,000,000-point chart,
against the requests MLflow's UI makes for the same views.

    python -m bench.ui_pages [--runs 100000] [--points 1000000] [--calls 30] [--mlflow PATH]

Starts an embedded PostgreSQL (bench.run's settings) in a temporary directory and loads, into
each system's own database, the search experiment of bench.run by COPY and one run with a
million-point metric holding one spike (modelyard: through the store, as a client logs it;
MLflow: COPY into ``metrics``). Then serves each with its own server (one worker) and times,
from one keep-alive client on 127.0.0.1 (so a time is the server's plus a loopback round trip):

* modelyard: the runs page (``/ui/experiments/<id>``), first page sorted by a metric, at the
  default 50 rows and at 100; the same filtered; the chart fragment of the million-point metric
  (``/ui/chart``), its very first request separately; the run page.
* MLflow: its UI renders in the browser, so a view costs its JavaScript once and then the API
  calls it makes: ``runs/search`` ordered by the metric, 100 runs (the UI's page), and
  ``metrics/get-history-bulk-interval`` with ``max_results=320`` (the UI's sampled chart).
  The bytes of the page shell and the scripts and stylesheets it names are reported too.

Reports p50/p95 in ms and the bytes of each response body, whether each chart kept the spike,
and writes bench/results/ui.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench._dataset import FILTER, Series, search_runs
from bench._postgres import embedded_postgres
from bench._seed import seed_mlflow, seed_mlflow_history, seed_modelyard
from bench._servers import mlflow_server, mlflow_upgrade, modelyard_server
from bench._timing import client, latency
from bench.run import find_mlflow, log, mlflow_version
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.store import Store
from modelyard.store.metrics import MetricBatch

RESULTS = Path(__file__).resolve().parent / "results" / "ui.json"
SPIKE_STEP, SPIKE = 654_321, 50.0
T0 = 1_767_225_600_000
CURVE_KEY = "curve"
MLFLOW_PAGE = 100  # runs per page of MLflow's runs table
MLFLOW_CHART_POINTS = 320  # max_results of the UI's sampled metric chart


def curve(points: int) -> Series:
    """A slow wave with one spike at a step no stride of a naive sampler hits."""
    steps = list(range(points))
    values = [math.sin(s / 20_000) for s in steps]
    if SPIKE_STEP < points:
        values[SPIKE_STEP] = SPIKE
    return Series(steps=steps, timestamps=[T0 + s for s in steps], values=values)


async def load_curve(dsn: str, series: Series) -> tuple[str, float]:
    """The curve logged through the store in 100,000-point batches; (run id, seconds)."""
    store = await Store.open(dsn, DEFAULT_SCHEMA)
    try:
        exp = await store.experiments.create("bench-ui-history")
        run = await store.runs.create(exp.experiment_id, name="million")
        started = time.monotonic()
        for lo in range(0, len(series.steps), 100_000):
            hi = lo + 100_000
            await store.metrics.log(
                run.run_id,
                MetricBatch(
                    keys=[CURVE_KEY] * len(series.steps[lo:hi]),
                    values=series.values[lo:hi],
                    steps=series.steps[lo:hi],
                    timestamps=series.timestamps[lo:hi],
                ),
            )
        return run.run_id, time.monotonic() - started
    finally:
        await store.close()


def measure(
    http: httpx.Client, path: str, calls: int, *, method: str = "GET", body: Any = None
) -> dict[str, Any]:
    sizes: list[int] = []

    def send() -> None:
        response = http.request(method, path, json=body)
        response.raise_for_status()
        sizes.append(len(response.content))

    timing = latency(send, warmup=2, max_calls=calls, max_seconds=120).as_dict()
    return {"path": path, "ms": timing, "bytes": sizes[-1]}


def measure_modelyard(dsn: str, work: Path, run_id: str, experiment_id: int, calls: int) -> Any:
    found: dict[str, Any] = {}
    with modelyard_server(dsn, 1, work) as server, client(server.base_url) as http:
        runs = f"/ui/experiments/{experiment_id}"
        chart = f"/ui/chart?run={run_id}&key={CURVE_KEY}"
        first = time.perf_counter()
        cold = http.get(chart)
        cold.raise_for_status()
        found["chart_first_request_ms"] = round((time.perf_counter() - first) * 1000, 1)
        sort = {"sort": "metrics.loss", "dir": "asc"}
        found["runs_page_sorted"] = measure(http, f"{runs}?{urlencode(sort)}", calls)
        found["runs_page_sorted_100"] = measure(
            http, f"{runs}?{urlencode({**sort, 'n': '100'})}", calls
        )
        filtered = urlencode({**sort, "filter": FILTER})
        found["runs_page_filtered_sorted"] = measure(http, f"{runs}?{filtered}", calls)
        found["chart"] = measure(http, chart, calls)
        polyline = cold.text.split('points="')[1].split('"')[0]
        found["chart_points_drawn"] = len(polyline.split())
        # The y range of the drawn points (data-y1 is their maximum) reaches the spike.
        top = float(cold.text.split('data-y1="')[1].split('"')[0])
        found["chart_spike_kept"] = top == SPIKE
        found["run_page"] = measure(http, f"/ui/runs/{run_id}", calls)
        found["first_visit_bytes"] = assets_bytes(http, f"{runs}?{urlencode(sort)}")
    return found


def assets_bytes(http: httpx.Client, path: str) -> dict[str, int]:
    """A page and the scripts and stylesheets it names: what a first visit loads (MLflow's
    later chunks load on demand and are not counted)."""
    page = http.get(path)
    page.raise_for_status()
    assets = dict.fromkeys(re.findall(r'(?:src|href)="(?:\./|/)?([^"]+\.(?:js|css))"', page.text))
    total = 0
    for asset in assets:
        response = http.get("/" + asset)
        response.raise_for_status()
        total += len(response.content)
    return {"html": len(page.content), "assets": total, "asset_files": len(assets)}


def measure_mlflow(
    mlflow_bin: Path, dsn: str, work: Path, experiment_id: int, run_id: str, calls: int
) -> Any:
    found: dict[str, Any] = {}
    with (
        mlflow_server(mlflow_bin, dsn, 1, work, work) as server,
        client(server.base_url) as http,
    ):
        found["first_visit_bytes"] = assets_bytes(http, "/")
        search = {
            "experiment_ids": [str(experiment_id)],
            "filter": "",
            "run_view_type": "ACTIVE_ONLY",
            "max_results": MLFLOW_PAGE,
            "order_by": ["metrics.`loss` ASC"],
        }
        path = "/ajax-api/2.0/mlflow/runs/search"
        found["runs_search_sorted"] = measure(http, path, calls, method="POST", body=search)
        filtered = {**search, "filter": FILTER}
        found["runs_search_filtered_sorted"] = measure(
            http, path, calls, method="POST", body=filtered
        )
        query = urlencode(
            {"run_ids": run_id, "metric_key": CURVE_KEY, "max_results": MLFLOW_CHART_POINTS}
        )
        chart = f"/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?{query}"
        response = http.get(chart, timeout=600)
        response.raise_for_status()
        points = response.json().get("metrics", [])
        found["chart_points"] = len(points)
        found["chart_spike_kept"] = any(p["value"] == SPIKE for p in points)
        found["chart"] = measure(http, chart, calls)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--mlflow", type=Path, default=None, help="see bench.run --mlflow")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    mlflow_bin = None if args.skip_mlflow else find_mlflow(args.mlflow)
    results: dict[str, Any] = {"runs": args.runs, "points": args.points}
    results["mlflow_version"] = mlflow_version(mlflow_bin) if mlflow_bin else None
    series = curve(args.points)
    seed = list(search_runs(args.runs))
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-ui-") as tmp:
        work = Path(tmp)
        with embedded_postgres(work / "pg") as pg:
            results["postgres"] = pg.version
            dsn = pg.create_database("bench_ui")
            log(f"modelyard: {args.runs:,} runs by COPY, {args.points:,} points by the store")
            experiment_id = seed_modelyard(dsn, seed)
            run_id, seconds = asyncio.run(load_curve(dsn, series))
            results["modelyard_curve_ingest_seconds"] = round(seconds, 2)
            pg.vacuum_analyze("bench_ui")
            log("modelyard: measuring")
            results["modelyard"] = measure_modelyard(dsn, work, run_id, experiment_id, args.calls)
            if mlflow_bin:
                ml_dsn = pg.create_database("bench_ui_mlflow")
                log("mlflow: db upgrade, runs and points by COPY")
                mlflow_upgrade(mlflow_bin, ml_dsn, work)
                ml_experiment = seed_mlflow(ml_dsn, seed, str(work / "artifacts"))
                seed_mlflow_history(ml_dsn, seed[0].run_id, CURVE_KEY, series)
                pg.vacuum_analyze("bench_ui_mlflow")
                log("mlflow: measuring")
                results["mlflow"] = measure_mlflow(
                    mlflow_bin, ml_dsn, work, ml_experiment, seed[0].run_id, args.calls
                )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
