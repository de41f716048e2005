"""Several sessions and processes sharing one data directory end up with one server."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from embedded_support import FAST, start_session_child

from modelyard.embedded import EmbeddedPostgres, LockTimeout
from modelyard.embedded._lock import FileLock
from modelyard.embedded._process import pid_alive


def test_second_session_attaches_and_only_the_owner_stops(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path, settings=FAST)
    with embedded.session() as owner:
        with EmbeddedPostgres(tmp_path, settings=FAST).session() as attached:
            assert (attached.pid, attached.port) == (owner.pid, owner.port)
            assert owner.owned and not attached.owned
        assert pid_alive(owner.pid)
        with psycopg.connect(owner.dsn()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    assert not pid_alive(owner.pid)
    assert embedded.running() is None


def test_the_last_session_out_stops_the_server(tmp_path: Path) -> None:
    """An owner that ends first leaves the server to the session still attached to it."""
    owner_session = EmbeddedPostgres(tmp_path, settings=FAST).session()
    owner = owner_session.__enter__()
    attached_session = EmbeddedPostgres(tmp_path, settings=FAST).session()
    attached = attached_session.__enter__()
    assert owner.owned and not attached.owned
    owner_session.__exit__(None, None, None)
    assert pid_alive(owner.pid), "the owner stopped a server another session still uses"
    with psycopg.connect(attached.dsn()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    attached_session.__exit__(None, None, None)
    assert not pid_alive(owner.pid), "the last session out must stop the server"


def test_a_detached_server_outlives_every_session(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path, settings=FAST)
    started = embedded.start()
    try:
        with EmbeddedPostgres(tmp_path, settings=FAST).session() as attached:
            assert attached.pid == started.pid
        assert pid_alive(started.pid)
    finally:
        assert embedded.stop()


def test_two_processes_racing_end_with_one_server(tmp_path: Path) -> None:
    children = [start_session_child(tmp_path) for _ in range(2)]
    try:
        seen = []
        for child in children:
            assert child.stdout is not None
            seen.append(json.loads(child.stdout.readline()))
        assert seen[0]["pid"] == seen[1]["pid"]
        assert seen[0]["port"] == seen[1]["port"]
        assert sorted(s["owned"] for s in seen) == [False, True]
        owner_index = [s["owned"] for s in seen].index(True)
        attached, owner = children[1 - owner_index], children[owner_index]

        assert attached.communicate("", timeout=30)[0] == ""
        assert attached.returncode == 0
        assert pid_alive(seen[0]["pid"])
        owner.communicate("", timeout=30)
        assert owner.returncode == 0
        assert not pid_alive(seen[0]["pid"])
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()


def test_lock_held_too_long_times_out(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path, settings=FAST).session():
        pass  # creates the data directory and cluster
    embedded = EmbeddedPostgres(tmp_path, settings=FAST, timeout=0.3)
    blocker = FileLock(tmp_path / "pg.lock")
    assert blocker.try_acquire()
    try:
        with pytest.raises(LockTimeout, match=r"pg\.lock"):
            with embedded.session():
                pass
    finally:
        blocker.release()
