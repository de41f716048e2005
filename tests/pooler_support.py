"""A real PgBouncer in transaction mode in front of a test PostgreSQL, for the tests that run
through a pooler (``via_pooler`` in tests/conftest.py).

Debian's ``pgbouncer`` binary runs with an ini and a userlist written here, listening on a free
127.0.0.1 port, with no setting made for modelyard: no ``ignore_startup_parameters``, no
``track_extra_parameters``, no ``max_prepared_statements``. Every database name is forwarded
(``*``), so each test's fresh database is reachable through it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg
import psycopg.conninfo
import pytest

PGBOUNCER = os.environ.get("MODELYARD_TEST_PGBOUNCER", "/usr/sbin/pgbouncer")
# PgBouncer refuses to run as root; it switches to this user after reading its files.
UNPRIVILEGED_USER = "nobody"


def missing_reason() -> str | None:
    """Why PgBouncer cannot run here, or None when it can."""
    if not Path(PGBOUNCER).exists() and shutil.which("pgbouncer") is None:
        return f"pgbouncer not installed at {PGBOUNCER} (Debian package `pgbouncer`)"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pgbouncer(
    admin_dsn: str, logins: Mapping[str, str] | None = None, *, pool_size: int = 20
) -> Iterator[int]:
    """Run PgBouncer in transaction mode in front of the server of ``admin_dsn``; yield its port.

    ``admin_dsn``'s user may log in through it, and the users of ``logins`` (name: password).
    """
    binary = PGBOUNCER if Path(PGBOUNCER).exists() else str(shutil.which("pgbouncer"))
    server = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    user, password = str(server.get("user", "")), str(server.get("password", ""))
    port = _free_port()
    # Not under pytest's tmp dirs (mode 0700): the unprivileged user must read its files.
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-pgbouncer-"))
    workdir.chmod(0o755)
    userlist = workdir / "userlist.txt"
    users = {user: password, **(logins or {})}
    userlist.write_text("".join(f'"{name}" "{secret}"\n' for name, secret in users.items()))
    ini = workdir / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={server.get('host', '127.0.0.1')} port={server.get('port', 5432)}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        "unix_socket_dir =\n"
        "auth_type = scram-sha-256\n"
        f"auth_file = {userlist}\n"
        "pool_mode = transaction\n"
        "max_client_conn = 1000\n"
        f"default_pool_size = {pool_size}\n"
        # A dropped test database takes its server connections with it; forget them quickly.
        "server_check_delay = 0\n"
        "server_login_retry = 1\n"
        "log_connections = 0\n"
        "log_disconnections = 0\n"
        + (f"user = {UNPRIVILEGED_USER}\n" if os.geteuid() == 0 else "")
    )
    for path in (userlist, ini):
        path.chmod(0o644)
    log = open(workdir / "pgbouncer.log", "wb")
    process = subprocess.Popen(
        [binary, str(ini)], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        _wait_until_it_answers(process, pooled_url(admin_dsn, port), workdir)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_until_it_answers(process: subprocess.Popen[bytes], dsn: str, workdir: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                "pgbouncer exited: " + (workdir / "pgbouncer.log").read_text(errors="replace")
            )
        try:
            with psycopg.connect(dsn, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def pooled_url(database_url: str, pooler_port: int) -> str:
    """The conninfo of ``database_url`` through the pooler listening on ``pooler_port``."""
    return psycopg.conninfo.make_conninfo(database_url, host="127.0.0.1", port=str(pooler_port))


# How a test's server reaches PostgreSQL: directly, or through PgBouncer in transaction mode.
ROUTES = ("direct", "pgbouncer")


def route_url(request: pytest.FixtureRequest, route: str, database_url: str) -> str:
    """``database_url`` for ``route`` (one of ROUTES; skips when PgBouncer is missing)."""
    if route == "direct":
        return database_url
    return pooled_url(database_url, request.getfixturevalue("pgbouncer_port"))
