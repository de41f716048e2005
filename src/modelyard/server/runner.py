"""Runs the app under uvicorn in one process or in N forked worker processes.

With several workers the parent binds the listening socket once (TCP_NODELAY set on it, so no
worker's keep-alive responses wait on Nagle's algorithm and delayed ACKs: ~40 ms a response) and
forks the workers, each building its own app and pool from the same ``Settings``; nothing goes
through environment variables. SIGINT/SIGTERM on the parent is passed to the workers, which stop
accepting, finish in-flight requests and close their pools; then the parent returns, and the
caller stops the embedded PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import tempfile
from pathlib import Path
from types import FrameType

import uvicorn

from modelyard.server.app import create_app
from modelyard.settings import Settings

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket with TCP_NODELAY and SO_REUSEADDR set."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(settings: Settings, conninfo: str) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, conninfo),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=30,
    )


def _run(settings: Settings, conninfo: str, sock: socket.socket) -> None:
    """Run one uvicorn server on ``sock`` until SIGINT/SIGTERM, then return normally.

    uvicorn re-raises the stop signal after its graceful shutdown, restoring the handlers it
    found. With the default handlers that kills the process (SIGTERM) or raises
    KeyboardInterrupt (SIGINT) before the caller's cleanup runs: the embedded PostgreSQL would be
    left running. Installing a no-op handler first makes that re-raise harmless.
    """
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(_config(settings, conninfo)).run(sockets=[sock])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(settings: Settings, conninfo: str) -> None:
    """Serve until SIGINT/SIGTERM; returns after every worker has shut down."""
    if settings.ui_secret is None:
        settings = dataclasses.replace(settings, ui_secret=secrets.token_bytes(32))
    sock = bind_socket(settings.host, settings.port)
    if settings.workers == 1:
        try:
            _run(settings, conninfo, sock)
        finally:
            sock.close()
        return
    shared = Path(tempfile.mkdtemp(prefix="modelyard-metrics-"))
    settings = dataclasses.replace(settings, metrics_dir=shared)
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_run, args=(settings, conninfo, sock), name=f"worker-{i}")
        for i in range(settings.workers)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, frame: FrameType | None) -> None:
        for worker in workers:
            if worker.pid and worker.is_alive():
                os.kill(worker.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for worker in workers:
            worker.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sock.close()
        shutil.rmtree(shared, ignore_errors=True)
    failed = [w.name for w in workers if w.exitcode != 0]
    if failed:
        log.error("workers exited abnormally", extra={"workers": failed})
