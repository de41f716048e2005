"""Running PostgreSQL programs with the right privileges, and watching the postmaster.

PostgreSQL refuses to run as root. As root we run its programs inside a user namespace
(``unshare --user``) where our uid is mapped to an ordinary one: files stay owned by the real
root and no account is created or changed. Where namespaces are blocked (some container
runtimes), the programs run as an existing unprivileged user named by the caller instead.
"""

from __future__ import annotations

import functools
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from modelyard.embedded.errors import EmbeddedPostgresError, PrivilegeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """What a finished PostgreSQL program returned."""

    returncode: int
    output: str  # stdout and stderr interleaved, as a user would have seen them

    @property
    def last_line(self) -> str:
        lines = [line for line in self.output.splitlines() if line.strip()]
        return lines[-1].strip() if lines else f"exit status {self.returncode}"


@dataclass(frozen=True)
class Runner:
    """How PostgreSQL programs are started: directly, in a user namespace, or as another user."""

    prefix: tuple[str, ...] = ()
    user: pwd.struct_passwd | None = None

    @property
    def file_owner(self) -> tuple[int, int]:
        """The real (uid, gid) that must own the cluster's files for the server to accept them."""
        if self.user is not None:
            return self.user.pw_uid, self.user.pw_gid
        return os.geteuid(), os.getegid()

    def describe(self) -> str:
        if self.user is not None:
            return f"as user {self.user.pw_name!r}"
        return "in a user namespace" if self.prefix else "directly"

    def run(self, argv: Sequence[str], *, timeout: float) -> Result:
        """Run ``argv`` to completion and return its exit status and output.

        Output goes to a temporary file rather than a pipe: a server started by ``pg_ctl``
        could inherit the pipe and keep it open, so reading it to EOF would never end.
        """
        command = [*self.prefix, *argv]
        log.debug("running %s", subprocess.list2cmdline(command))
        with tempfile.TemporaryFile("w+") as out:
            try:
                completed = self._run(command, out, timeout)
            except subprocess.TimeoutExpired:
                raise EmbeddedPostgresError(
                    f"{Path(argv[0]).name} did not finish within {timeout:g}s"
                ) from None
            out.seek(0)
            output = out.read()
        log.debug("exit status %d: %s", completed.returncode, output.strip())
        return Result(completed.returncode, output)

    def _run(
        self, command: list[str], out: IO[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            # "/" is readable by anyone; our own cwd may not be for another user.
            cwd="/",
            user=self.user.pw_uid if self.user else None,
            group=self.user.pw_gid if self.user else None,
            extra_groups=[] if self.user else None,
            check=False,
        )


def choose_runner(run_as: str | None) -> Runner:
    """Pick how to run PostgreSQL programs for the current process.

    An explicit ``run_as`` user wins over a user namespace when we are root: whoever configured
    it wants the server to run as that account.
    """
    if os.geteuid() != 0:
        return Runner()
    if run_as:
        try:
            user = pwd.getpwnam(run_as)
        except KeyError:
            raise PrivilegeError(f"PostgreSQL user {run_as!r} does not exist") from None
        if user.pw_uid == 0:
            raise PrivilegeError(f"PostgreSQL user {run_as!r} is root; PostgreSQL refuses that")
        return Runner(user=user)
    prefix = _namespace_prefix()
    if prefix is None:
        raise PrivilegeError(
            "running as root and user namespaces are unavailable; set MODELYARD_PG_USER to an "
            "existing unprivileged user to run PostgreSQL as"
        )
    return Runner(prefix=prefix)


@functools.cache
def _namespace_prefix() -> tuple[str, ...] | None:
    """Return the ``unshare`` command line that runs a program as non-root in a user namespace,
    or None when this system does not allow it (checked once per process)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    inner = _unprivileged_account()
    if inner is None:
        return None
    prefix = (unshare, "--user", f"--map-user={inner.pw_uid}", f"--map-group={inner.pw_gid}")
    try:
        probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if probe.returncode != 0:
        log.debug("user namespaces unavailable: %s", probe.stderr.decode(errors="replace"))
        return None
    return prefix


def _unprivileged_account() -> pwd.struct_passwd | None:
    """The account our uid is mapped to inside the namespace.

    initdb looks up the name of the uid it runs as, so that uid must exist; "nobody" exists
    nearly everywhere and owns nothing.
    """
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        return next((p for p in pwd.getpwall() if p.pw_uid != 0), None)


@dataclass(frozen=True)
class PidFile:
    """The parts of ``postmaster.pid`` we use (see PostgreSQL's ``miscadmin.h``)."""

    pid: int
    port: int | None
    status: str  # "starting", "ready", "stopping", or "" while the file is being written


def read_pid_file(path: Path) -> PidFile | None:
    """Parse ``postmaster.pid``; None when it is missing or too short to hold a pid."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return None

    def line(number: int) -> str:
        return lines[number - 1].strip() if len(lines) >= number else ""

    port = line(4)
    return PidFile(pid=pid, port=int(port) if port.isdigit() else None, status=line(8))


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` names a live (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    if stat.rpartition(")")[2].split()[0] != "Z":
        return True
    # A dead postmaster whose parent is us (e.g. we are a container's init) must be reaped.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    return False


def is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is alive and, as far as we can tell, a postmaster serving ``pgdata``.

    A postmaster's working directory is its data directory, which tells a real postmaster from
    an unrelated process that reused a dead one's pid. When /proc does not let us look, we
    trust the pid.
    """
    if not pid_alive(pid):
        return False
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        # No /proc at all (not Linux): trust the pid. Else the process just exited.
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return os.path.realpath(cwd) == os.path.realpath(pgdata)


def wait_for_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to exit; return whether it did."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def signal_postmaster(pid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to the postmaster.

    We signal it ourselves rather than through ``pg_ctl stop``, which refuses to run as root;
    root may signal the server whether it runs in a user namespace or as another user.
    """
    log.debug("sending %s to postmaster %d", sig.name, pid)
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
