"""Starting again after crashes: stale postmaster.pid, dead owners, killed initdb."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg
from embedded_support import FAST, start_session_child

from modelyard.embedded import EmbeddedPostgres
from modelyard.embedded._process import pid_alive


def _wait_dead(pid: int) -> None:
    deadline = time.monotonic() + 10
    while pid_alive(pid):
        assert time.monotonic() < deadline, f"pid {pid} did not exit"
        time.sleep(0.02)


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_start_after_postmaster_was_sigkilled(tmp_path: Path, bin_dir: Path) -> None:
    # synchronous_commit stays on: with it off, a commit just before SIGKILL may be lost.
    embedded = EmbeddedPostgres(tmp_path, bin_dir=bin_dir, settings={"fsync": "off"})
    killed = embedded.start()
    with psycopg.connect(killed.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE survivor (x int)")
    os.kill(killed.pid, signal.SIGKILL)
    _wait_dead(killed.pid)
    assert (tmp_path / "pg" / "postmaster.pid").exists()  # nothing cleaned up

    with embedded.session() as server, psycopg.connect(server.dsn()) as conn:
        assert server.pid != killed.pid
        assert server.owned
        assert conn.execute("SELECT count(*) FROM survivor").fetchone() == (0,)


def test_pid_file_naming_a_dead_pid(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path, settings=FAST)
    with embedded.session():
        pass
    pid_file = tmp_path / "pg" / "postmaster.pid"
    pid_file.write_text(f"{_dead_pid()}\n{tmp_path / 'pg'}\n0\n5432\n\n127.0.0.1\n0 0\nready   \n")

    with embedded.session() as server, psycopg.connect(server.dsn()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_pid_file_naming_a_reused_pid(tmp_path: Path) -> None:
    """After a reboot the pid may belong to an unrelated live process, here pytest itself."""
    embedded = EmbeddedPostgres(tmp_path, settings=FAST)
    with embedded.session():
        pass
    (tmp_path / "pg" / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path / 'pg'}\n")

    with embedded.session() as server:
        assert server.pid != os.getpid()
        assert server.owned


def test_next_session_adopts_server_of_dead_owner(tmp_path: Path) -> None:
    child = start_session_child(tmp_path)
    assert child.stdout is not None
    orphan_pid = json.loads(child.stdout.readline())["pid"]
    child.kill()  # the owner dies without stopping its server
    child.communicate()
    assert pid_alive(orphan_pid)

    embedded = EmbeddedPostgres(tmp_path, settings=FAST)
    with embedded.session() as server:
        assert (server.pid, server.owned) == (orphan_pid, True)
    assert not pid_alive(orphan_pid)


def test_initdb_killed_halfway_is_redone(tmp_path: Path) -> None:
    scratch = tmp_path / "pg.initdb"
    scratch.mkdir()
    (scratch / "PG_VERSION").write_text("18\n")
    with EmbeddedPostgres(tmp_path, settings=FAST).session() as server:
        with psycopg.connect(server.dsn()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not scratch.exists()
