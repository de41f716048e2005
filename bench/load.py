"""A mixed load against ``modelyard server --workers 2`` with locust, headless, for minutes.

One embedded PostgreSQL 18 (``bench/_postgres.py``'s settings), a database seeded with the
search experiment of ``bench/_dataset.py`` by COPY, a run with a 10,000-point history and a
model with versions and an alias made through the API; then ``locust`` (``bench/locustfile.py``:
training clients logging metrics, people searching and browsing, serving processes resolving
an alias) runs headless for ``--minutes`` while the server's memory is sampled every 5 seconds
(the RSS of its whole process group: the supervisor and both workers).

Pass criteria (issue 12): no answer of 500 or more, failure ratio 0, and the server's RSS flat:
the largest sample of the last 3 minutes at most 10% above the sample taken just before them.
p50/p95 per request type come from locust's own statistics.

locust lives in a venv of its own (it pins gevent and flask):
``python3 -m venv .venv-locust && .venv-locust/bin/pip install locust==2.47.0``.

Usage: PYTHONPATH=src:. python -m bench.load [--locust .venv-locust/bin/locust] [--minutes 5]
Prints a JSON document, also written to ``bench/results/load.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import _dataset as data
from bench._postgres import embedded_postgres
from bench._seed import seed_modelyard
from bench._servers import modelyard_server
from bench._systems import Modelyard
from bench._timing import client
from bench.run import log

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "load.json"
FLAT_WINDOW_S = 180
SAMPLE_EVERY_S = 5.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--locust", type=Path, default=Path(".venv-locust/bin/locust"))
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=24, help="locust users (all classes)")
    parser.add_argument("--spawn-rate", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=20_000, help="runs in the search experiment")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="a kept work directory")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def group_rss_kib(pgid: int) -> int:
    """The summed RSS of every live process in process group ``pgid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # the fifth field of stat: the process group
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return total


class Sampler(threading.Thread):
    """Samples a process group's RSS every few seconds until stopped."""

    def __init__(self, pgid: int) -> None:
        super().__init__(daemon=True)
        self.pgid = pgid
        self.samples: list[tuple[float, int]] = []
        self.done = threading.Event()
        self.start_time = time.monotonic()

    def run(self) -> None:
        while not self.done.is_set():
            self.samples.append((time.monotonic() - self.start_time, group_rss_kib(self.pgid)))
            self.done.wait(SAMPLE_EVERY_S)


def flatness(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """The RSS before the last FLAT_WINDOW_S seconds and the largest sample within them."""
    end = samples[-1][0]
    before = [kib for t, kib in samples if t <= end - FLAT_WINDOW_S]
    window = [kib for t, kib in samples if t > end - FLAT_WINDOW_S]
    if not before or not window:
        return {"enough_samples": False}
    growth = max(window) / before[-1] - 1
    return {
        "enough_samples": True,
        "rss_mib_at_window_start": round(before[-1] / 1024, 1),
        "rss_mib_max_in_window": round(max(window) / 1024, 1),
        "growth": round(growth, 4),
        "flat": growth <= 0.10,
    }


def read_stats(prefix: Path) -> list[dict[str, Any]]:
    """Per request type: count, failures, p50, p95, p99 (ms) from locust's ``_stats.csv``."""
    rows = []
    with open(f"{prefix}_stats.csv", newline="") as stats:
        for row in csv.DictReader(stats):
            rows.append(
                {
                    "type": row["Type"],
                    "name": row["Name"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "p50_ms": float(row["50%"] or 0),
                    "p95_ms": float(row["95%"] or 0),
                    "p99_ms": float(row["99%"] or 0),
                    "per_s": round(float(row["Requests/s"] or 0), 1),
                }
            )
    return rows


def prepare(base_url: str) -> dict[str, str]:
    """What the SQL seed did not make: the ingest experiment, a history run, the model."""
    system = Modelyard()
    with client(base_url) as http:
        ingest = system.create_experiment(http, "load-ingest")
        history_experiment = system.create_experiment(http, "load-history")
        run = system.create_run(http, history_experiment, "history")
        system.seed_history(http, run, "loss", data.history_series(10_000))
        system.register_model(http, "load-model", run, 5, "champion", 3)
    return {"LOAD_INGEST_EXPERIMENT": ingest, "LOAD_RUN": run, "LOAD_MODEL": "load-model"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    locust = shutil.which(str(args.locust)) or str(args.locust)
    if not Path(locust).exists():
        raise SystemExit(f"locust not found at {args.locust} (see the usage in {__file__})")
    work = args.work or Path(tempfile.mkdtemp(prefix="modelyard-load-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.load " + " ".join(argv if argv is not None else sys.argv[1:]),
        "load_average_before": os.getloadavg(),
        "minutes": args.minutes,
        "users": args.users,
        "workers": args.workers,
        "runs": args.runs,
    }
    with embedded_postgres(work / "pg") as pg:
        dsn = pg.create_database("bench_load")
        log(f"loading {args.runs:,} runs by COPY")
        search_experiment = seed_modelyard(dsn, list(data.search_runs(args.runs)))
        with modelyard_server(dsn, args.workers, work / "logs", label="-load") as server:
            env = {**os.environ, **prepare(server.base_url)}
            env["LOAD_SEARCH_EXPERIMENT"] = str(search_experiment)
            env["LOAD_OUTCOME"] = str(work / "outcome.json")
            pg.vacuum_analyze("bench_load")
            sampler = Sampler(server.pid)
            sampler.start()
            log(f"locust: {args.users} users for {args.minutes:g} min against {server.base_url}")
            subprocess.run(
                [
                    locust,
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(args.users),
                    "--spawn-rate",
                    str(args.spawn_rate),
                    "--run-time",
                    f"{int(args.minutes * 60)}s",
                    "--host",
                    server.base_url,
                    "--csv",
                    str(work / "locust"),
                    "--only-summary",
                    "--loglevel",
                    "WARNING",
                ],
                env=env,
                check=False,
                stdout=(work / "logs" / "locust.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            sampler.done.set()
            sampler.join()
    outcome = json.loads((work / "outcome.json").read_text())
    meta["load_average_after"] = os.getloadavg()
    stats = read_stats(work / "locust")
    memory = flatness(sampler.samples)
    result = {
        "meta": meta,
        "outcome": outcome,
        "failure_ratio": round(outcome["failures"] / max(1, outcome["requests"]), 6),
        "memory": memory,
        "rss_samples_mib": [round(kib / 1024, 1) for _, kib in sampler.samples],
        "requests": stats,
        "passed": outcome["server_errors"] == 0
        and outcome["failures"] == 0
        and bool(memory.get("flat")),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rss_samples_mib"}, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
