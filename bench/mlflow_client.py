"""One mlflow-client workload against ``mlflow server`` and ``modelyard server``, same PostgreSQL.

The same code (the real ``mlflow`` client of our venv, ``MlflowClient``) runs against each
server in turn, at the issue's sizes: run creation with 20 params and 10 tags, ``log_batch`` of
1,000 points, single ``log_metric`` calls, ``search_runs`` over 2,000 and 100,000 runs (filtered
and ordered; and 1,000 rows unfiltered), ``get_metric_history`` of 1,000 and 100,000 points,
alias resolution, and artifact upload and download of 10 MB and 1 GB through the server. Every
figure is a rate or a median measured by this one client, so the ratio is what a user of the
mlflow client would see.

Each figure is also split in two: the time spent inside ``requests.Session.send`` (the HTTP
round trip: the server's work, the wire, and reading the body) and the rest, the mlflow
client's own work (building the protobuf request, turning the JSON answer into protobuf
messages and entities). The split shows which part of a ratio is the client's, and the
per-request HTTP time of the two servers compares the servers alone.

    PYTHONPATH=src:. .venv/bin/python -m bench.mlflow_client --mlflow .venv-mlflow/bin/mlflow

The searched experiments (2,000 and 100,000 runs with params, a tag and latest metrics) are
loaded by COPY into each system's own tables (``bench/_seed.py``), as ``bench.run`` does;
everything else goes through the client. Without an ``mlflow`` executable (a separate venv, as
bench/README.md says) only modelyard is measured. Results go to
``bench/results/mlflow_client.json``; ``--markdown`` prints the table BENCHMARKS.md holds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import requests
from mlflow.entities import Metric, Param

from bench._dataset import FILTER, ORDER_BY, search_runs
from bench._postgres import embedded_postgres
from bench._seed import seed_mlflow, seed_modelyard
from bench._servers import Running, mlflow_server, mlflow_upgrade, modelyard_server

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = (
    ROOT / ".venv-mlflow/bin/mlflow",
    Path("/tmp/mlflow-venv/bin/mlflow"),
    Path("/tmp/ui-mlflow-venv/bin/mlflow"),
)
SMALL_EXPERIMENT, BIG_EXPERIMENT = "client-search-small", "client-search-big"
MODEL, ALIAS = "bench-client-model", "champion"
MB = 1024 * 1024


class WireClock:
    """Seconds spent in ``requests.Session.send``, the mlflow client's one way to the server."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0

    def install(self) -> None:
        original = requests.Session.send
        clock = self

        def timed(session: requests.Session, request: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(session, request, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - start
                clock.requests += 1

        requests.Session.send = timed  # type: ignore[method-assign]


CLOCK = WireClock()


@dataclass
class Figure:
    """One measured figure, with where its time went."""

    value: float
    unit: str
    ops: int  # operations timed (calls of the measured client method)
    wall_s: float
    http_s: float
    requests: int

    def as_dict(self) -> dict[str, Any]:
        http_share = self.http_s / self.wall_s if self.wall_s else 0.0
        return {
            "value": self.value,
            "unit": self.unit,
            "ops": self.ops,
            "requests": self.requests,
            "wall_s": round(self.wall_s, 3),
            "http_s": round(self.http_s, 3),
            "client_share": round(1 - http_share, 3),
            "http_ms_per_op": round(self.http_s / self.ops * 1000, 3) if self.ops else None,
            "client_ms_per_op": (
                round((self.wall_s - self.http_s) / self.ops * 1000, 3) if self.ops else None
            ),
        }


@dataclass
class Timer:
    """Wall and HTTP seconds over the calls timed with it."""

    samples_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    http_s: float = 0.0
    requests: int = 0

    def time(self, call: Callable[[], object]) -> object:
        http, count = CLOCK.seconds, CLOCK.requests
        start = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - start
        self.samples_ms.append(elapsed * 1000)
        self.wall_s += elapsed
        self.http_s += CLOCK.seconds - http
        self.requests += CLOCK.requests - count
        return result

    def rate(self, count: int, unit: str) -> Figure:
        return Figure(
            round(count / self.wall_s, 1), unit, len(self.samples_ms), *self._totals()
        )

    def median(self) -> Figure:
        value = round(statistics.median(self.samples_ms), 2)
        return Figure(value, "ms", len(self.samples_ms), *self._totals())

    def _totals(self) -> tuple[float, float, int]:
        return self.wall_s, self.http_s, self.requests


def _repeat(call: Callable[[], object], times: int) -> Timer:
    call()  # warm-up: caches, prepared statements, the first connection
    timer = Timer()
    for _ in range(times):
        timer.time(call)
    return timer


def _for_seconds(call: Callable[[int], object], seconds: float) -> tuple[Timer, int]:
    timer, i = Timer(), 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        timer.time(lambda i=i: call(i))
        i += 1
    return timer, i


@dataclass(frozen=True)
class Sizes:
    runs: int
    seconds: float
    small: int
    big: int
    history: int
    artifact_mb: tuple[int, ...]
    artifacts_only: bool = False


def workload(
    url: str, sizes: Sizes, searched: dict[str, str], files: dict[int, Path], work: Path
) -> tuple[dict[str, Figure], dict[str, Any]]:
    """The figures of one server, measured through ``MlflowClient``; and what to compare."""
    client = mlflow.MlflowClient(url, registry_uri=url)
    figures: dict[str, Figure] = {}
    check: dict[str, Any] = {}
    experiment_id = client.create_experiment(f"bench-client-{time.time_ns()}")
    if sizes.artifacts_only:
        run_id = client.create_run(experiment_id).info.run_id
        return _artifact_figures(client, run_id, sizes, files, work), check
    params = [Param(f"p{i}", str(i)) for i in range(19)]
    run_ids: list[str] = []

    def create(i: int) -> None:
        tags = {f"t{j}": str(j) for j in range(9)} | {"team": "a" if i % 2 else "b"}
        run = client.create_run(experiment_id, tags=tags)
        client.log_batch(
            run.info.run_id,
            params=[*params, Param("lr", str(i % 10 / 100))],
            metrics=[Metric("loss", 1 / (i + 1), 1, 0)],
        )
        run_ids.append(run.info.run_id)

    timer = Timer()
    for i in range(sizes.runs):
        timer.time(lambda i=i: create(i))
    figures["run creation (20 params, 10 tags), runs/s"] = timer.rate(sizes.runs, "runs/s")

    def batch(i: int) -> None:
        steps = range(i * 1000, (i + 1) * 1000)
        client.log_batch(run_ids[0], metrics=[Metric("curve", float(s), 1, s) for s in steps])

    timer, batches = _for_seconds(batch, sizes.seconds)
    figures["log_batch of 1,000 points, points/s"] = timer.rate(batches * 1000, "points/s")

    def single(i: int) -> None:
        client.log_metric(run_ids[1], "single", float(i), step=i)

    timer, calls = _for_seconds(single, sizes.seconds)
    figures["single log_metric calls/s"] = timer.rate(calls, "calls/s")

    for label, experiment, filtered_times, unfiltered_times in (
        (f"{sizes.small:,}", searched[SMALL_EXPERIMENT], 20, 5),
        (f"{sizes.big:,}", searched[BIG_EXPERIMENT], 10, 3),
    ):
        def filtered(experiment: str = experiment) -> Any:
            return client.search_runs(
                [experiment], FILTER, order_by=list(ORDER_BY), max_results=100
            )

        check[f"filtered page over {label} runs"] = [r.info.run_id for r in filtered()]
        figures[f"search_runs filtered + ordered over {label} runs, ms"] = _repeat(
            filtered, filtered_times
        ).median()

        def listing(experiment: str = experiment) -> Any:
            found = client.search_runs([experiment], max_results=1000)
            if len(found) != 1000:
                raise RuntimeError(f"{url}: unfiltered search gave {len(found)} runs")
            return found

        figures[f"search_runs 1,000 rows unfiltered over {label} runs, ms"] = _repeat(
            listing, unfiltered_times
        ).median()

    for key, points, run_id, times in (
        ("h1k", 1000, run_ids[2], 20),
        ("h100k", sizes.history, run_ids[3], 3),
    ):
        for start in range(0, points, 1000):
            steps = range(start, min(points, start + 1000))
            client.log_batch(run_id, metrics=[Metric(key, s / 7, 1, s) for s in steps])

        def history(key: str = key, run_id: str = run_id, points: int = points) -> Any:
            found = client.get_metric_history(run_id, key)
            if len(found) != points:
                raise RuntimeError(f"{url}: history {key} has {len(found)} points")
            return found

        figures[f"get_metric_history of {points:,} points, ms"] = _repeat(history, times).median()

    figures["alias resolution (get_model_version_by_alias), ms"] = _alias(client, run_ids[4])

    figures |= _artifact_figures(client, run_ids[5], sizes, files, work)
    return figures, check


def _artifact_figures(
    client: mlflow.MlflowClient, run_id: str, sizes: Sizes, files: dict[int, Path], work: Path
) -> dict[str, Figure]:
    figures: dict[str, Figure] = {}
    for size in sizes.artifact_mb:
        up, down = _artifacts(client, run_id, files[size], work, size)
        figures[f"artifact upload {size:,} MB, MB/s"] = up
        figures[f"artifact download {size:,} MB, MB/s"] = down
    return figures


def _alias(client: mlflow.MlflowClient, run_id: str) -> Figure:
    client.log_text(run_id, "artifact_path: model\n", "model/MLmodel")
    client.create_registered_model(MODEL)
    for _ in range(3):
        client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(MODEL, ALIAS, "2")

    def resolve() -> Any:
        found = client.get_model_version_by_alias(MODEL, ALIAS)
        if found.version != "2":
            raise RuntimeError(f"alias gave version {found.version}")
        return found

    return _repeat(resolve, 200).median()


def _artifacts(
    client: mlflow.MlflowClient, run_id: str, source: Path, work: Path, size_mb: int
) -> tuple[Figure, Figure]:
    """Upload then download one file, ``times`` times for small files; MB/s of each."""
    times = 3 if size_mb <= 100 else 1
    up, down = Timer(), Timer()
    for attempt in range(times):
        where = f"blob-{size_mb}-{attempt}"
        up.time(lambda where=where: client.log_artifact(run_id, str(source), where))
        target = Path(tempfile.mkdtemp(prefix=f"download-{size_mb}-", dir=work))
        path = Path(
            str(
                down.time(
                    lambda where=where, target=target: client.download_artifacts(
                        run_id, f"{where}/{source.name}", str(target)
                    )
                )
            )
        )
        if path.stat().st_size != source.stat().st_size or (
            size_mb <= 100 and _digest(path) != _digest(source)
        ):
            raise RuntimeError(f"downloaded {path} differs from {source}")
        path.unlink()
    return up.rate(size_mb * times, "MB/s"), down.rate(size_mb * times, "MB/s")


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(MB), b""):
            sha.update(block)
    return sha.hexdigest()


def _make_files(work: Path, sizes_mb: Sequence[int]) -> dict[int, Path]:
    """Incompressible files of each size (random blocks, so no store can dedup within one)."""
    files = {}
    for size in sizes_mb:
        path = work / f"blob-{size}mb.bin"
        with path.open("wb") as f:
            for _ in range(size):
                f.write(os.urandom(MB))
        files[size] = path
    return files


def log(message: str) -> None:
    print(f"[{datetime.now(UTC).strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="runs each server creates")
    parser.add_argument("--seconds", type=float, default=10, help="seconds per ingest figure")
    parser.add_argument("--small-runs", type=int, default=2000, help="runs of the small search")
    parser.add_argument("--big-runs", type=int, default=100_000, help="runs of the big search")
    parser.add_argument("--history", type=int, default=100_000, help="points of the long history")
    parser.add_argument(
        "--artifact-mb", default="10,1024", help="artifact sizes in MB, comma-separated"
    )
    parser.add_argument(
        "--artifacts-only",
        action="store_true",
        help="measure the artifact figures alone (the searched experiments get 10 runs each)",
    )
    parser.add_argument(
        "--artifact-store",
        default=None,
        metavar="URL",
        help="modelyard's artifact store URL; 'file' is a file:// store in the work directory,"
        " beside MLflow's local --artifacts-destination (like with like); default: postgresql",
    )
    parser.add_argument("--mlflow", type=Path, default=None, help="mlflow executable (own venv)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench/results/mlflow_client.json")
    parser.add_argument("--markdown", action="store_true", help="print BENCHMARKS.md's table")
    return parser.parse_args(argv)


def _seed(pg: Any, work: Path, sizes: Sizes, mlflow_bin: Path | None) -> dict[str, dict[str, str]]:
    """Both databases with the two searched experiments; each system's experiment ids."""
    small = list(search_runs(sizes.small, seed=2))
    big = list(search_runs(sizes.big))
    searched: dict[str, dict[str, str]] = {}
    my_dsn = pg.create_database("bench_client_modelyard")
    log(f"modelyard: loading {sizes.small:,} + {sizes.big:,} runs by COPY")
    searched["modelyard"] = {
        name: str(seed_modelyard(my_dsn, runs, name))
        for name, runs in ((SMALL_EXPERIMENT, small), (BIG_EXPERIMENT, big))
    }
    pg.vacuum_analyze("bench_client_modelyard")
    if mlflow_bin is not None:
        ml_dsn = pg.create_database("bench_client_mlflow")
        log("mlflow: creating tables (mlflow db upgrade)")
        mlflow_upgrade(mlflow_bin, ml_dsn, work)
        log(f"mlflow: loading {sizes.small:,} + {sizes.big:,} runs by COPY")
        searched["mlflow"] = {
            name: str(seed_mlflow(ml_dsn, runs, str(work / "seeded"), name))
            for name, runs in ((SMALL_EXPERIMENT, small), (BIG_EXPERIMENT, big))
        }
        pg.vacuum_analyze("bench_client_mlflow")
    return searched


def _servers(
    pg: Any, work: Path, mlflow_bin: Path | None, artifact_store: str | None
) -> Iterator[tuple[str, AbstractContextManager[Running]]]:
    dsn = pg.dsn("bench_client_modelyard")
    if artifact_store == "file":
        artifact_store = f"file://{work / 'modelyard-artifacts'}"
    yield "modelyard", modelyard_server(dsn, 1, work, artifact_store=artifact_store)
    if mlflow_bin is not None:
        dsn = pg.dsn("bench_client_mlflow")
        yield "mlflow", mlflow_server(mlflow_bin, dsn, 1, work, work, proxy_artifacts=True)


def compare(results: dict[str, Any]) -> dict[str, Any]:
    """Per figure: the user's ratio, and the servers' alone (HTTP time per operation)."""
    mine, theirs = results["modelyard"]["figures"], results["mlflow"]["figures"]
    out: dict[str, Any] = {}
    for name, my in mine.items():
        ml = theirs[name]
        faster_is_lower = my["unit"] == "ms"
        ratio = ml["value"] / my["value"] if faster_is_lower else my["value"] / ml["value"]
        server = None
        if my["http_ms_per_op"] and ml["http_ms_per_op"]:
            server = round(ml["http_ms_per_op"] / my["http_ms_per_op"], 2)
        out[name] = {"ratio": round(ratio, 2), "server_ratio": server}
    return out


def markdown(results: dict[str, Any]) -> str:
    mine, theirs = results["modelyard"]["figures"], results["mlflow"]["figures"]
    ratios = results["ratio"]
    lines = [
        "| figure (one client, sequential) | modelyard | MLflow | ratio | HTTP ms/op modelyard"
        " / MLflow (server ratio) | client's own share modelyard / MLflow |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for name, my in mine.items():
        ml, ratio = theirs[name], ratios[name]
        lines.append(
            f"| {name} | {my['value']:,} | {ml['value']:,} | {ratio['ratio']}x"
            f" | {my['http_ms_per_op']} / {ml['http_ms_per_op']} ({ratio['server_ratio']}x)"
            f" | {my['client_share']:.0%} / {ml['client_share']:.0%} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.runs < 6:
        raise SystemExit("--runs must be at least 6 (the later figures each use one of them)")
    sizes = Sizes(
        runs=args.runs,
        seconds=args.seconds,
        small=min(args.small_runs, 10) if args.artifacts_only else args.small_runs,
        big=min(args.big_runs, 10) if args.artifacts_only else args.big_runs,
        history=args.history,
        artifact_mb=tuple(int(s) for s in args.artifact_mb.split(",") if s),
        artifacts_only=args.artifacts_only,
    )
    mlflow_bin = args.mlflow or next((p for p in CANDIDATES if p.exists()), None)
    # A 1 GB upload outlasts the client's default 120 s timeout on a loaded machine; and an
    # error should stop the run, not be retried with backoff.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "3600")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    CLOCK.install()
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.mlflow_client "
        + shlex.join(argv if argv is not None else sys.argv[1:]),
        "nproc": os.cpu_count(),
        "mlflow_client": mlflow.__version__,
        "sizes": sizes.__dict__,
        "modelyard_artifact_store": args.artifact_store or "postgresql",
    }
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp) / "pg") as pg:
        work = Path(tmp)
        results["postgres"] = pg.version
        searched = _seed(pg, work, sizes, mlflow_bin)
        files = _make_files(work, sizes.artifact_mb)
        checks = {}
        for name, server in _servers(pg, work, mlflow_bin, args.artifact_store):
            load_before = _loadavg()
            log(f"{name}: measuring (load {load_before})")
            with server as running:
                figures, checks[name] = workload(
                    running.base_url, sizes, searched[name], files, work
                )
            results[name] = {
                "loadavg_before": load_before,
                "loadavg_after": _loadavg(),
                "figures": {k: f.as_dict() for k, f in figures.items()},
            }
            log(f"{name}: done (load {results[name]['loadavg_after']})")
    if "mlflow" in results:
        results["same search results from both"] = checks["modelyard"] == checks["mlflow"]
        results["ratio"] = compare(results)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    wanted_table = args.markdown and "ratio" in results
    print(markdown(results) if wanted_table else json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
