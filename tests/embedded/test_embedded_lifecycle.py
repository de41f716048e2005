"""Creating, starting, stopping and restarting the embedded server."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest
from embedded_support import FAST

from modelyard.embedded import (
    BinariesNotFound,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    StartFailed,
    default_data_dir,
    pg_tool,
)
from modelyard.embedded._cluster import free_port


def test_init_start_connect_stop_restart_keeps_data(tmp_path: Path, bin_dir: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path / "data", bin_dir=bin_dir, settings=FAST)
    with embedded.session() as server:
        assert server.owned
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")
            assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
            assert conn.execute("SHOW unix_socket_directories").fetchone() == ("",)
            assert conn.execute("SHOW fsync").fetchone() == ("off",)
            version = conn.execute("SHOW server_version_num").fetchone()
    assert embedded.running() is None
    assert version is not None
    assert (bin_dir / "postgres").exists()

    with embedded.session() as server, psycopg.connect(server.dsn()) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(42,)]


def test_data_dir_layout(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path / "data", settings=FAST)
    with embedded.session():
        pass
    root = tmp_path / "data"
    assert (root / "pg" / "PG_VERSION").is_file()
    assert not (root / "pg.initdb").exists()
    assert stat.S_IMODE((root / "pg.password").stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert "database system is ready" in (root / "pg.log").read_text()


def test_password_auth_is_required(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path, settings=FAST).session() as server:
        wrong = server.dsn().replace(server.password, "wrong")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong).close()


def test_chosen_port(tmp_path: Path) -> None:
    port = free_port()
    with EmbeddedPostgres(tmp_path, port=port, settings=FAST).session() as server:
        assert server.port == port
        assert f":{port}/app" in server.dsn("app")


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with EmbeddedPostgres(tmp_path / "a", settings=FAST).session() as first:
        second = EmbeddedPostgres(tmp_path / "b", port=first.port, settings=FAST, timeout=10)
        with pytest.raises(StartFailed, match=r"did not start on .*could not create"):
            with second.session():
                pass


def test_detached_start_outlives_sessions_until_stop(tmp_path: Path) -> None:
    embedded = EmbeddedPostgres(tmp_path, settings=FAST)
    started = embedded.start()
    try:
        with embedded.session() as server:
            assert (server.pid, server.owned) == (started.pid, False)
        assert embedded.running() is not None
    finally:
        assert embedded.stop()
    assert embedded.running() is None
    assert not embedded.stop()


def test_pg_tool_matches_server_binaries(bin_dir: Path) -> None:
    assert pg_tool("pg_dump", bin_dir) == bin_dir / "pg_dump"
    with pytest.raises(BinariesNotFound, match="no_such_tool"):
        pg_tool("no_such_tool", bin_dir)


def test_default_data_dir() -> None:
    assert default_data_dir({"MODELYARD_DATA_DIR": "/srv/my"}) == Path("/srv/my")
    assert default_data_dir({"XDG_DATA_HOME": "/x"}) == Path("/x/modelyard")
    home_default = Path.home() / ".local/share/modelyard"
    assert default_data_dir({"XDG_DATA_HOME": "relative"}) == home_default
    assert default_data_dir({}) == home_default


def test_from_env(tmp_path: Path) -> None:
    env = {"MODELYARD_DATA_DIR": str(tmp_path), "MODELYARD_PG_USER": "someone"}
    embedded = EmbeddedPostgres.from_env(env)
    assert embedded.data_dir == tmp_path


def test_bad_setting_name_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid PostgreSQL setting name"):
        EmbeddedPostgres(tmp_path, settings={"fsync=off -c x": "on"})


def test_unusable_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    embedded = EmbeddedPostgres(tmp_path / "file" / "data")
    with pytest.raises(EmbeddedPostgresError, match="cannot use data directory"):
        with embedded.session():
            pass
