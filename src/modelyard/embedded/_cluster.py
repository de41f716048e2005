"""Creating, starting and stopping one PostgreSQL cluster with ``initdb``, ``pg_ctl`` and signals.

Nothing here locks: the launcher calls these methods while it holds the data directory's lock.
"""

from __future__ import annotations

import logging
import math
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.embedded._paths import Layout, pg_tool
from modelyard.embedded._process import (
    Runner,
    read_pid_file,
    signal_postmaster,
    wait_for_exit,
)
from modelyard.embedded.errors import InitdbFailed, PrivilegeError, StartFailed, StopFailed

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
HOST = "127.0.0.1"

SettingValue = str | int | float | bool
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# Start failures worth another try: a port taken between our probe and the server's bind (when
# we chose the port), and shared memory still held by children of a postmaster just killed.
_PORT_TAKEN = ("could not bind", "could not create any TCP/IP sockets")
_SHMEM_BUSY = "pre-existing shared memory block"
# Written to postgresql.conf too, so the cluster stays loopback-only even if started by hand.
_CONF_LINES = f"""
# Added by modelyard: the embedded server listens on TCP loopback only, with no unix socket.
listen_addresses = '{HOST}'
unix_socket_directories = ''
"""


def render_settings(settings: Mapping[str, SettingValue]) -> dict[str, str]:
    """Check setting names and turn values into PostgreSQL's spelling (``True`` -> ``on``)."""
    rendered: dict[str, str] = {}
    for name, value in settings.items():
        if not _SETTING_NAME.fullmatch(name):
            raise ValueError(f"invalid PostgreSQL setting name: {name!r}")
        if isinstance(value, bool):
            rendered[name] = "on" if value else "off"
        else:
            rendered[name] = str(value)
    return rendered


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (start retries if it is not)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Cluster:
    """One data directory's cluster, and how to run its programs."""

    layout: Layout
    bin_dir: Path
    runner: Runner
    settings: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0

    def is_initialized(self) -> bool:
        # initdb runs in a scratch directory renamed to pg/ on success, so pg/ is complete.
        return (self.layout.pgdata / "PG_VERSION").is_file()

    def init(self) -> None:
        """Create the cluster: UTF8, C locale, superuser ``postgres`` with a generated password."""
        scratch = self.layout.root / "pg.initdb"
        if scratch.exists():
            shutil.rmtree(scratch)  # left behind by an initdb that was killed
        scratch.mkdir(mode=0o700)
        self._give_to_server(scratch)
        self._check_access(scratch)
        password = secrets.token_urlsafe(24)
        write_private(self.layout.password_file, password + "\n")
        # initdb reads the password from a file (never the command line). A copy the server's
        # account can read: a dedicated user can open neither pg.password nor root's stdin pipe.
        pwfile = self.layout.root / "pg.initdb.pw"
        write_private(pwfile, password + "\n")
        self._give_to_server(pwfile)
        args = [
            str(pg_tool("initdb", self.bin_dir)),
            f"--pgdata={scratch}",
            f"--username={SUPERUSER}",
            "--encoding=UTF8",
            "--locale=C",
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--no-instructions",
        ]
        if self.settings.get("fsync") == "off":
            args.append("--no-sync")  # a server that will not fsync gains nothing from it
        try:
            result = self.runner.run(args, timeout=self.timeout)
        finally:
            pwfile.unlink()
        if result.returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            raise InitdbFailed(f"initdb failed for {self.layout.pgdata}: {result.last_line}")
        with (scratch / "postgresql.conf").open("a") as conf:
            conf.write(_CONF_LINES)
        scratch.rename(self.layout.pgdata)
        log.info("initialized PostgreSQL cluster in %s", self.layout.pgdata)

    def start(self, port: int | None) -> tuple[int, int]:
        """Start the server on ``port`` (a free one when None), wait until it is ready, and
        return its (pid, port)."""
        pgdata, logfile = self.layout.pgdata, self.layout.log_file
        logfile.touch(mode=0o600)
        self._give_to_server(pgdata, logfile)
        self._check_access(pgdata)
        deadline = time.monotonic() + self.timeout
        while True:
            chosen = port if port is not None else free_port()
            log_offset = logfile.stat().st_size
            remaining = max(1.0, deadline - time.monotonic())
            result = self.runner.run(
                [
                    str(pg_tool("pg_ctl", self.bin_dir)),
                    "start",
                    "--wait",
                    f"--timeout={math.ceil(remaining)}",
                    "--silent",
                    f"--pgdata={pgdata}",
                    f"--log={logfile}",
                    f"--options={shlex.join(self._server_options(chosen))}",
                ],
                timeout=remaining + 10,
            )
            pid_file = read_pid_file(self.layout.pid_file)
            if result.returncode == 0 and pid_file is not None and pid_file.port is not None:
                log.info("started PostgreSQL %s on %s:%d", self.runner.describe(), HOST, chosen)
                return pid_file.pid, pid_file.port
            new_log = _read_from(logfile, log_offset)
            port_taken = port is None and any(marker in new_log for marker in _PORT_TAKEN)
            if (port_taken or _SHMEM_BUSY in new_log) and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            reason = _first_error(new_log) or result.last_line
            raise StartFailed(f"PostgreSQL did not start on {pgdata}: {reason} (log: {logfile})")

    def stop(self, pid: int) -> None:
        """Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit.

        If that does not finish in time, escalate to immediate shutdown, which is safe (the next
        start runs crash recovery) and beats leaving a server behind.
        """
        signal_postmaster(pid, signal.SIGINT)
        if wait_for_exit(pid, self.timeout):
            log.info("stopped PostgreSQL (pid %d)", pid)
            return
        log.warning("PostgreSQL (pid %d) ignored fast shutdown; shutting down immediately", pid)
        signal_postmaster(pid, signal.SIGQUIT)
        if not wait_for_exit(pid, 10):
            raise StopFailed(f"PostgreSQL (pid {pid}) on {self.layout.pgdata} did not stop")

    def _server_options(self, port: int) -> list[str]:
        settings = {
            **self.settings,
            "port": str(port),
            "listen_addresses": HOST,
            "unix_socket_directories": "",
        }
        return [arg for name, value in settings.items() for arg in ("-c", f"{name}={value}")]

    def _give_to_server(self, *paths: Path) -> None:
        """As root, make ``paths`` (recursively) owned by the account the server runs as.

        Only our own data directory is touched. Needed when the run mode changed since the
        cluster was created (user namespace <-> dedicated user), as the server checks ownership.
        """
        if os.geteuid() != 0:
            return
        uid, gid = self.runner.file_owner
        for path in paths:
            if path.stat().st_uid == uid:
                continue
            log.info("changing owner of %s to uid %d", path, uid)
            os.chown(path, uid, gid)
            for parent, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(os.path.join(parent, name), uid, gid, follow_symlinks=False)

    def _check_access(self, directory: Path) -> None:
        """When running as another user, fail clearly if that user cannot use our files."""
        if self.runner.user is None:
            return
        name = self.runner.user.pw_name
        if self.runner.run(["test", "-w", str(directory)], timeout=10).returncode != 0:
            raise PrivilegeError(
                f"user {name!r} cannot write {directory}: each parent directory must be "
                "searchable by that user"
            )
        postgres = pg_tool("postgres", self.bin_dir)
        if self.runner.run([str(postgres), "--version"], timeout=10).returncode != 0:
            raise PrivilegeError(f"user {name!r} cannot run {postgres}")


def write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(out.fileno(), 0o600)  # O_CREAT's mode does not apply to an existing file
        out.write(text)


def _read_from(path: Path, offset: int) -> str:
    with path.open("rb") as file:
        file.seek(offset)
        return file.read().decode(errors="replace")


def _first_error(log_text: str) -> str:
    for line in log_text.splitlines():
        for level in ("FATAL:", "PANIC:"):
            if level in line:
                return line[line.index(level) :].strip()
    return ""
