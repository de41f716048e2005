"""What the fault scenarios share: a server process that can be killed, and counts from PostgreSQL.

The server runs as a real ``modelyard server`` subprocess (a SIGKILL must kill a process, not a
thread), its output in a file so that a chatty log can never block it on a full pipe.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import psycopg.conninfo
import pytest
from fault_proxy import FaultProxy, fault_proxy

from modelyard.client import Client
from pooler_support import missing_reason, pgbouncer, pooled_url

SCHEMA = "ml_model_schema"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A ``modelyard server`` on ``port`` over ``database_url``; restartable on the same port."""

    database_url: str
    log_dir: Path
    port: int = field(default_factory=free_port)
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        log = open(self.log_dir / f"server-{self.port}-{self.starts}.log", "wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelyard",
                "--database-url",
                self.database_url,
                "server",
                "--port",
                str(self.port),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MODELYARD_LOG_LEVEL": "warning"},
        )
        log.close()
        wait_ready(self.url, timeout, self.process)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, connections dropped mid-request."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))


def wait_ready(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server at {url} not ready within {timeout} s")


class CountingClient(Client):
    """A client that counts the metric batches the server acknowledged, and the retries."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.acknowledged = 0
        self.attempts = 0

    def log_metric_batch(self, run_id: str, keys: Any, *rest: Any, **kwargs: Any) -> None:
        with self.lock:
            self.attempts += 1
        super().log_metric_batch(run_id, keys, *rest, **kwargs)
        with self.lock:
            self.acknowledged += len(keys)


def stored_steps(database_url: str, run_id: str, key: str) -> list[int]:
    """Every stored step of one series, duplicates included, read from the chunks themselves."""
    with psycopg.connect(database_url) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        rows = conn.execute(
            "SELECT s FROM metric_chunk c, unnest(c.steps) s"
            " WHERE c.run_id = %s::uuid AND c.key = %s ORDER BY s",
            [run_id, key],
        ).fetchall()
    return [int(row[0]) for row in rows]


def sql_rows(database_url: str, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        cur = conn.execute(statement, params)
        return cur.fetchall() if cur.description else []


@contextmanager
def proxied_database(
    database_url: str, route: str
) -> Iterator[tuple[str, tuple[str, ...], FaultProxy]]:
    """A fault proxy in front of ``database_url``'s server, reached directly or through PgBouncer.

    Yields the conninfo the server under test uses, the server flags the route needs, and the
    proxy. With ``route == "pgbouncer"`` the chain is server -> PgBouncer (transaction mode) ->
    proxy -> PostgreSQL: the faults hit PgBouncer's server connections, as a network fault between
    a pooler and its database would.
    """
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    with fault_proxy(str(params["host"]), int(str(params["port"]))) as proxy:
        through = psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=proxy.port)
        if route == "direct":
            yield through, (), proxy
            return
        reason = missing_reason()
        if reason is not None:
            pytest.skip(reason)
        with pgbouncer(through) as port:
            yield pooled_url(database_url, port), ("--no-prepared-statements",), proxy
