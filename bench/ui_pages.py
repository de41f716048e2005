"""Web UI pages at scale: the runs table of a 100,000-run experiment and a 1,000,000-point chart.

    python -m bench.ui_pages [--runs 100000] [--points 1000000] [--calls 30]

Starts an embedded PostgreSQL (bench.run's settings) in a temporary directory, loads the search
experiment of bench.run by COPY and one run with a million-point metric through the store, then
serves it with ``modelyard server`` (one worker) and times, from a client on 127.0.0.1:

* the runs page, first page (50 runs) sorted by a metric ascending, default columns;
* the same page filtered (``metrics.loss < 0.5 and params.lr = '0.01'``) and sorted;
* the chart fragment of the million-point metric (``/ui/chart``): the first request, which
  summarises the chunks once (``metric_chunk_rollup``), then warm requests;
* the run page of that run (its metrics table with min/max and its chart).

Reports p50/p95 in ms and the bytes of each response body, and writes bench/results/ui.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from bench._dataset import FILTER, search_runs
from bench._postgres import embedded_postgres
from bench._seed import seed_modelyard
from bench._servers import modelyard_server
from bench._timing import client, latency
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.store import Store
from modelyard.store.metrics import MetricBatch

RESULTS = Path(__file__).resolve().parent / "results" / "ui.json"
SPIKE = 654_321


async def load_history(dsn: str, points: int) -> str:
    store = await Store.open(dsn, DEFAULT_SCHEMA)
    try:
        exp = await store.experiments.create("bench-ui-history")
        run = await store.runs.create(exp.experiment_id, name="million")
        for lo in range(0, points, 100_000):
            steps = list(range(lo, min(points, lo + 100_000)))
            values = [math.sin(s / 20_000) for s in steps]
            if lo <= SPIKE < lo + len(steps):
                values[SPIKE - lo] = 50.0
            await store.metrics.log(
                run.run_id,
                MetricBatch(
                    keys=["loss"] * len(steps),
                    values=values,
                    steps=steps,
                    timestamps=[1_767_225_600_000 + s for s in steps],
                ),
            )
        return run.run_id
    finally:
        await store.close()


def measure(http: httpx.Client, path: str, calls: int) -> dict[str, Any]:
    sizes: list[int] = []

    def get() -> None:
        response = http.get(path)
        response.raise_for_status()
        sizes.append(len(response.content))

    timing = latency(get, warmup=2, max_calls=calls, max_seconds=120).as_dict()
    return {"path": path, "ms": timing, "bytes": sizes[-1]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    results: dict[str, Any] = {"runs": args.runs, "points": args.points}
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-ui-") as tmp:
        work = Path(tmp)
        with embedded_postgres(work / "pg") as pg:
            dsn = pg.create_database("bench_ui")
            started = time.monotonic()
            experiment_id = seed_modelyard(dsn, list(search_runs(args.runs)))
            run_id = asyncio.run(load_history(dsn, args.points))
            pg.vacuum_analyze("bench_ui")
            results["load_seconds"] = round(time.monotonic() - started, 1)
            results["postgres"] = pg.version
            with modelyard_server(dsn, 1, work) as server, client(server.base_url) as http:
                runs = f"/ui/experiments/{experiment_id}"
                chart = f"/ui/chart?run={run_id}&key=loss"
                first = time.perf_counter()
                cold = http.get(chart)
                cold.raise_for_status()
                results["chart_first_request_ms"] = round((time.perf_counter() - first) * 1000)
                results["runs_page_sorted"] = measure(
                    http, runs + "?sort=metrics.loss&dir=asc", args.calls
                )
                query = urlencode({"sort": "metrics.loss", "dir": "asc", "filter": FILTER})
                results["runs_page_filtered_sorted"] = measure(http, f"{runs}?{query}", args.calls)
                results["chart"] = measure(http, chart, args.calls)
                polyline = cold.text.split('points="')[1].split('"')[0]
                results["chart_points_drawn"] = len(polyline.split())
                results["chart_spike_kept"] = ",12.0" in polyline
                results["run_page"] = measure(http, f"/ui/runs/{run_id}", args.calls)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
