"""Start and stop the servers under test as subprocesses on free ports of 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
SRC = Path(__file__).resolve().parent.parent / "src"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Running:
    """A server that answers on ``base_url``."""

    name: str
    base_url: str
    pid: int


@contextmanager
def _process(
    name: str,
    argv: Sequence[str],
    port: int,
    env: dict[str, str],
    log_path: Path,
    timeout: float = 180.0,
) -> Iterator[Running]:
    """Run ``argv`` in its own session until the block ends; wait for ``/health`` first.

    The own session lets the whole tree (uvicorn's supervisor and its workers) be signalled by
    its process-group id, the id of the process started here, and nothing else.
    """
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    base_url = f"http://{HOST}:{port}"
    try:
        _wait_healthy(proc, base_url, timeout, log_path)
        yield Running(name=name, base_url=base_url, pid=proc.pid)
    finally:
        _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {timeout:g}s; see {log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    # Workers or helpers left in the group after the leader exited: the group is ours alone.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


@contextmanager
def modelyard_server(
    dsn: str,
    workers: int,
    log_dir: Path,
    extra: Sequence[str] = (),
    label: str = "",
    artifact_store: str | None = None,
) -> Iterator[Running]:
    """``modelyard server`` on ``dsn``; ``extra``: more server options (``--auth``);
    ``artifact_store``: the store URL (``file:///dir``), else the default (``postgresql``)."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
    }
    argv = [
        sys.executable,
        "-m",
        "modelyard",
        "--database-url",
        dsn,
        *(("--artifact-store", artifact_store) if artifact_store else ()),
        "server",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        *extra,
    ]
    name = f"modelyard{label} x{workers}"
    log_path = log_dir / f"modelyard{label}-w{workers}.log"
    with _process(name, argv, port, env, log_path) as running:
        yield running


@contextmanager
def mlflow_server(
    mlflow_bin: Path,
    dsn: str,
    workers: int,
    work_dir: Path,
    log_dir: Path,
    *,
    proxy_artifacts: bool = False,
) -> Iterator[Running]:
    """MLflow's server as its docs run it, with its job runner off.

    The job runner (huey consumers for LLM-evaluation jobs) is not on any path measured here but
    keeps ~8 processes polling; on a 2-core machine that would tax MLflow's own figures. With
    ``proxy_artifacts`` new experiments get ``mlflow-artifacts:/`` locations, so the client
    uploads and downloads through the server (as it does against modelyard), not to a local path.
    """
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    argv = [
        str(mlflow_bin),
        "server",
        "--backend-store-uri",
        sqlalchemy_url(dsn),
        *(
            ("--artifacts-destination", str(work_dir / "proxied-artifacts"))
            if proxy_artifacts
            else ("--default-artifact-root", str(work_dir / "artifacts"))
        ),
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with _process(
        f"mlflow x{workers}", argv, port, env, log_dir / f"mlflow-w{workers}.log"
    ) as running:
        yield running


def sqlalchemy_url(dsn: str) -> str:
    """SQLAlchemy 2.1 reads ``postgresql://`` as psycopg 3; MLflow's venv ships psycopg2."""
    return "postgresql+psycopg2://" + dsn.removeprefix("postgresql://")


def mlflow_upgrade(mlflow_bin: Path, dsn: str, log_dir: Path) -> None:
    """Create MLflow's tables (its Alembic migrations) in the empty database."""
    with (log_dir / "mlflow-db-upgrade.log").open("ab") as log:
        subprocess.run(
            [str(mlflow_bin), "db", "upgrade", sqlalchemy_url(dsn)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=True,
            timeout=600,
        )
