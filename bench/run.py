"""modelyard vs MLflow's server on one PostgreSQL: ingest, search, history, alias; one command.

    python -m bench.run --runs 100000 --points 100000 --workers 1,2

See bench/README.md. Everything runs on 127.0.0.1: one embedded PostgreSQL, then, for each
worker count, each system's server in turn (a subprocess), measured by the same raw keep-alive
httpx client. Results are printed, saved to bench/results/latest.json and rendered into
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import platform
import random
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import _dataset as data
from bench._postgres import Postgres, embedded_postgres
from bench._report import print_table, update_markdown
from bench._seed import seed_mlflow, seed_mlflow_history, seed_modelyard
from bench._servers import Running, mlflow_server, mlflow_upgrade, modelyard_server
from bench._systems import MLflow, Modelyard, System
from bench._timing import BatchSource, client, latency, throughput

ROOT = Path(__file__).resolve().parent.parent
DATABASES = {"modelyard": "bench_modelyard", "mlflow": "bench_mlflow"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ints = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
    p.add_argument("--runs", type=int, default=100_000, help="runs in the searched experiment")
    p.add_argument("--points", type=int, default=100_000, help="points of the history read")
    p.add_argument("--workers", type=ints, default=[1, 2], help="server worker counts")
    p.add_argument("--threads", type=ints, default=[1, 4], help="ingest client threads")
    p.add_argument("--ingest-seconds", type=float, default=15.0)
    p.add_argument(
        "--latency-seconds", type=float, default=20.0, help="time bound of each latency measurement"
    )
    p.add_argument(
        "--mlflow",
        type=Path,
        default=None,
        help="the mlflow executable of a separate venv (default: .venv-mlflow/bin/"
        "mlflow, then /tmp/mlflow-venv/bin/mlflow); missing: MLflow is skipped",
    )
    p.add_argument("--skip-mlflow", action="store_true")
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="PostgreSQL data and logs (default: a new temporary directory)",
    )
    p.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    p.add_argument(
        "--markdown",
        type=Path,
        default=ROOT / "BENCHMARKS.md",
        help="file whose generated block is replaced ('-' for none)",
    )
    return p.parse_args(argv)


def find_mlflow(arg: Path | None) -> Path | None:
    candidates = (
        [arg] if arg else [ROOT / ".venv-mlflow/bin/mlflow", Path("/tmp/mlflow-venv/bin/mlflow")]
    )
    return next((c for c in candidates if c and c.exists() and os.access(c, os.X_OK)), None)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Prepared:
    """What one system's database holds for the measurements."""

    search_experiment: str
    ingest_experiment: str = ""
    history_run: str = ""
    ready: bool = False


@dataclass
class Bench:
    args: argparse.Namespace
    pg: Postgres
    work: Path
    series: data.Series
    prepared: dict[str, Prepared]
    search_pages: dict[str, dict[str, list[str]]]

    def prepare(self, system: System, server: Running, dsn: str) -> Prepared:
        """Create, through the API, what the SQL seed did not (once per system)."""
        state = self.prepared[system.name]
        if state.ready:
            return state
        log(f"{system.name}: preparing history run, model and alias through the API")
        with client(server.base_url) as http:
            history_experiment = system.create_experiment(http, data.HISTORY_EXPERIMENT)
            state.ingest_experiment = system.create_experiment(http, data.INGEST_EXPERIMENT)
            state.history_run = system.create_run(http, history_experiment, "history")
            if isinstance(system, Modelyard):
                system.seed_history(http, state.history_run, data.HISTORY_KEY, self.series)
            else:
                seed_mlflow_history(dsn, state.history_run, data.HISTORY_KEY, self.series)
            # A seeded run's loss history is its one point: checks the COPY-built chunks.
            probe = next(data.search_runs(1)).run_id
            if system.read_history(http, probe, "loss") != 1:
                raise RuntimeError(f"{system.name}: seeded run {probe} has no loss point")
            system.register_model(
                http,
                data.MODEL_NAME,
                state.history_run,
                data.MODEL_VERSIONS,
                data.ALIAS,
                data.ALIAS_TARGET,
            )
        self.pg.vacuum_analyze(DATABASES[system.name])
        state.ready = True
        return state

    def measure(self, system: System, server: Running, dsn: str) -> dict[str, Any]:
        state = self.prepare(system, server, dsn)
        bound = self.args.latency_seconds
        out: dict[str, Any] = {}
        with client(server.base_url) as http:
            out["ping"] = latency(
                lambda: http.get("/health").raise_for_status(),
                warmup=50,
                max_calls=1000,
                max_seconds=min(bound, 5),
            ).as_dict()
            log(f"{server.name}: alias")
            alias_call = system.alias(data.MODEL_NAME, data.ALIAS)
            found = system.alias_version(alias_call.send(http))
            if found != data.ALIAS_TARGET:
                raise RuntimeError(f"{system.name}: alias names version {found}")
            out["alias"] = latency(
                lambda: alias_call.send(http), warmup=50, max_calls=2000, max_seconds=bound
            ).as_dict()
            log(f"{server.name}: history")
            count = system.read_history(http, state.history_run, data.HISTORY_KEY)
            if count != len(self.series.steps):
                raise RuntimeError(f"{system.name}: history has {count} points")
            out["history"] = latency(
                lambda: system.read_history(http, state.history_run, data.HISTORY_KEY),
                warmup=2,
                max_calls=100,
                max_seconds=bound,
            ).as_dict()
            for label, filter, order in (
                ("search_filtered", data.FILTER, data.ORDER_BY),
                ("search_default", None, ()),
            ):
                log(f"{server.name}: {label}")
                call = system.search(state.search_experiment, filter, order)
                self.search_pages.setdefault(label, {})[system.name] = system.search_ids(
                    call.send(http)
                )
                out[label] = latency(
                    functools.partial(call.send, http), warmup=3, max_calls=300, max_seconds=bound
                ).as_dict()
        out["ingest"] = {}
        for threads in self.args.threads:
            log(f"{server.name}: ingest with {threads} thread(s)")
            out["ingest"][str(threads)] = self.ingest(system, server, state, threads)
        return out

    def ingest(self, system: System, server: Running, state: Prepared, threads: int) -> Any:
        with client(server.base_url) as http:
            runs = [
                system.create_run(http, state.ingest_experiment, f"ingest-{threads}-{i}")
                for i in range(threads)
            ]
        sources = [batches(system, run_id) for run_id in runs]
        return throughput(server.base_url, sources, max_seconds=self.args.ingest_seconds).as_dict()


def batches(system: System, run_id: str) -> BatchSource:
    """Batches of len(INGEST_KEYS) keys x consecutive steps, as a training loop logs them."""
    keys = list(data.INGEST_KEYS)
    steps_per_batch = system.batch_points // len(keys)
    rng = random.Random(run_id)
    pool = [rng.random() for _ in range(system.batch_points)]

    def generate() -> Iterator[tuple[Callable[[httpx.Client], object], int]]:
        for b in itertools.count():
            first = b * steps_per_batch
            steps = [s for s in range(first, first + steps_per_batch) for _ in keys]
            call = system.log_batch(
                run_id,
                keys * steps_per_batch,
                pool,
                steps,
                [data.START_MS + s * 100 for s in steps],
            )
            yield call.send, len(steps)

    return generate()


def machine() -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024),
        "loadavg_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
    }


def mlflow_version(mlflow_bin: Path) -> str:
    python = mlflow_bin.parent / "python"
    import subprocess

    result = subprocess.run(
        [str(python), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mlflow_bin = None if args.skip_mlflow else find_mlflow(args.mlflow)
    if mlflow_bin is None:
        log("MLflow not found (see bench/README.md): measuring modelyard only")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="modelyard-bench-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:]),
        **machine(),
        "modelyard": _modelyard_version(),
        "mlflow": mlflow_version(mlflow_bin) if mlflow_bin else None,
        "runs": args.runs,
        "points": args.points,
        "workers": args.workers,
        "ingest_threads": args.threads,
        "ingest_seconds": args.ingest_seconds,
        "latency_seconds": args.latency_seconds,
        "work_dir": str(work),
    }
    results: dict[str, Any] = {"meta": meta, "results": {}}
    with embedded_postgres(work / "pg") as pg:
        meta["postgres"] = pg.version
        meta["postgres_settings"] = pg.settings
        bench = Bench(args, pg, work, data.history_series(args.points), {}, {})
        seed_runs = list(data.search_runs(args.runs))
        my_dsn = pg.create_database(DATABASES["modelyard"])
        log(f"modelyard: loading {args.runs:,} runs by COPY")
        bench.prepared["modelyard"] = Prepared(str(seed_modelyard(my_dsn, seed_runs)))
        pg.vacuum_analyze(DATABASES["modelyard"])
        ml_dsn = ""
        if mlflow_bin:
            ml_dsn = pg.create_database(DATABASES["mlflow"])
            log("mlflow: creating tables (mlflow db upgrade)")
            mlflow_upgrade(mlflow_bin, ml_dsn, work / "logs")
            log(f"mlflow: loading {args.runs:,} runs by COPY")
            artifacts = str(work / "artifacts")
            bench.prepared["mlflow"] = Prepared(str(seed_mlflow(ml_dsn, seed_runs, artifacts)))
            pg.vacuum_analyze(DATABASES["mlflow"])
        del seed_runs
        for workers in args.workers:
            servers: list[tuple[System, str, AbstractContextManager[Running]]] = [
                (Modelyard(), my_dsn, modelyard_server(my_dsn, workers, work / "logs"))
            ]
            if mlflow_bin:
                servers.append(
                    (
                        MLflow(),
                        ml_dsn,
                        mlflow_server(mlflow_bin, ml_dsn, workers, work, work / "logs"),
                    )
                )
            for system, dsn, server_cm in servers:
                log(f"{system.name}: starting the server with {workers} worker(s)")
                with server_cm as server:
                    measured = bench.measure(system, server, dsn)
                results["results"][f"{system.name}/{workers}"] = measured
                _save(args.output, results)
        if mlflow_bin:
            # Both systems hold the same runs, so the first page of each search must match.
            meta["same_results"] = all(
                len(by_system) == 2 and len({tuple(ids) for ids in by_system.values()}) == 1
                for by_system in bench.search_pages.values()
            )
    _save(args.output, results)
    print_table(results)
    if str(args.markdown) != "-":
        update_markdown(args.markdown, results)
        log(f"wrote {args.output} and {args.markdown}")
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _modelyard_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelyard")
    except PackageNotFoundError:
        import tomllib

        project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
        return str(project["version"])


def _save(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
