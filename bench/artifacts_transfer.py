"""Upload and download of one large file through a running ``modelyard server``, per store.

For the ``postgresql`` and ``file://`` stores: a fresh database, a ``modelyard server``
subprocess (one worker) with that ``--artifact-store``, then ``Client.upload_artifact`` and
``Client.download_artifact`` of the same file (the client streams and hashes both ways, as a
user's would). Each is reported as MB/s and as a ratio to the plain copy of the same file
measured in the same run: ``cp`` + ``sync`` for the upload, ``cat > /dev/null`` for the
download. The server's peak RSS is its ``VmHWM`` from ``/proc`` (the kernel's high-water mark,
so no sampling can miss a peak), read after the transfers; its RSS after start-up is shown too.

Usage: PYTHONPATH=src python -m bench.artifacts_transfer [--size-mb 1024] [--work DIR]
Starts the embedded PostgreSQL (bench settings) under the work directory. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench._postgres import Postgres, embedded_postgres
from bench._servers import HOST, free_port
from modelyard.client import Client

MB = 1000 * 1000
MIB = 1024 * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_s(postmaster: int) -> float:
    """CPU seconds of PostgreSQL's processes: the live children of the postmaster plus those
    that exited (the postmaster's children times)."""
    tick = os.sysconf("SC_CLK_TCK")
    own = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    total = int(own[13]) + int(own[14])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def _timed(argv: list[str] | str, *, shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, shell=shell)
    return time.perf_counter() - start


def make_file(path: Path, size: int) -> None:
    """``size`` random bytes (incompressible, like weights), written in 8 MiB blocks."""
    with path.open("wb") as handle:
        left = size
        while left:
            block = os.urandom(min(8 * MIB, left))
            handle.write(block)
            left -= len(block)


def baselines(source: Path, work: Path) -> dict[str, float]:
    """Seconds for ``cp`` + ``sync`` and for ``cat > /dev/null`` of ``source``."""
    copy = work / "cp-copy.bin"
    up = _timed(f"cp {source} {copy} && sync", shell=True)
    down = _timed(f"cat {copy} > /dev/null", shell=True)
    copy.unlink()
    return {"cp_sync_s": up, "cat_s": down}


@contextmanager
def server(dsn: str, store: str, work: Path) -> Iterator[tuple[str, int]]:
    """``modelyard server`` over ``dsn`` with ``--artifact-store store``; (url, pid)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    base = [sys.executable, "-m", "modelyard", "--database-url", dsn]
    subprocess.run([*base, "db", "upgrade"], check=True, env=env, capture_output=True)
    port = free_port()
    argv = [
        *base,
        "server",
        "--port",
        str(port),
        "--artifact-store",
        store,
        "--max-artifact-mb",
        str(64 * 1024),
    ]
    with (work / "server.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see server.log")
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(60)


def measure(pg: Postgres, store: str, source: Path, work: Path) -> dict[str, Any]:
    dsn = pg.create_database(f"bench_artifacts_{store.split(':')[0]}")
    size = source.stat().st_size
    with server(dsn, store, work) as (url, pid), Client(url, timeout=300) as client:
        started_kib = _status_kib(pid, "VmRSS")
        experiment = client.create_experiment("transfer")
        run_id = str(client.create_run(experiment["experiment_id"])["run_id"])
        def sample() -> tuple[float, float, float]:
            return _cpu_s(pid), _own_cpu_s(), _postgres_cpu_s(pg.server.pid)

        cpu = [sample()]
        start = time.perf_counter()
        client.upload_artifact(run_id, source)
        up = time.perf_counter() - start
        cpu.append(sample())
        target = work / "download"
        start = time.perf_counter()
        client.download_artifact(run_id, source.name, target)
        down = time.perf_counter() - start
        cpu.append(sample())
        (target / source.name).unlink()
        peak_kib = _status_kib(pid, "VmHWM")
    return {
        "store": store,
        "upload_s": up,
        "download_s": down,
        "upload_mb_s": size / MB / up,
        "download_mb_s": size / MB / down,
        # CPU seconds spent, which the machine's load does not inflate as it does wall time.
        "upload_cpu_s": _spent(cpu[0], cpu[1]),
        "download_cpu_s": _spent(cpu[1], cpu[2]),
        "server_rss_after_start_mib": started_kib / 1024,
        "server_peak_rss_mib": peak_kib / 1024,
    }


def _spent(before: tuple[float, ...], after: tuple[float, ...]) -> dict[str, float]:
    names = ("server", "client", "postgres")
    return {n: round(b - a, 2) for n, a, b in zip(names, before, after, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--work", type=Path, default=None, help="work directory (a disk)")
    args = parser.parse_args()
    parent = args.work or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="modelyard-bench-art-", dir=parent) as tmp:
        work = Path(tmp)
        source = work / "weights.bin"
        make_file(source, args.size_mb * MIB)
        size = source.stat().st_size
        with embedded_postgres(work / "pg") as pg:
            results = []
            for store in ("postgresql", f"file://{work / 'store'}"):
                base = baselines(source, work)
                measured = measure(pg, store, source, work)
                measured.update(
                    cp_sync_mb_s=size / MB / base["cp_sync_s"],
                    cat_mb_s=size / MB / base["cat_s"],
                    upload_vs_cp=base["cp_sync_s"] / measured["upload_s"],
                    download_vs_cat=base["cat_s"] / measured["download_s"],
                )
                results.append(measured)
        report = {
            "size_bytes": size,
            "postgres": pg.version,
            "load_average": os.getloadavg(),
            "results": results,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
