"""gc, backup and migrate let no driver error out: typed errors in Python, one line in the CLI."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from modelyard.backup import backup
from modelyard.db import migrate
from modelyard.errors import DatabaseUnavailable, MigrationError, SchemaOutdated
from modelyard.gc import collect

SCHEMA = "ml_model_schema"
NOW = dt.datetime.now(dt.UTC)


def _unreachable_url() -> str:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://nobody@127.0.0.1:{port}/nothing?connect_timeout=2"


def _cli(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard", "--database-url", database_url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _assert_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    for text in expected:
        assert text in result.stderr


def test_upgrade_over_a_foreign_schema_is_a_migration_error(fresh_database: str) -> None:
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
        conn.execute(f"CREATE TABLE {SCHEMA}.someone_elses (id int)")
    with pytest.raises(MigrationError, match="no modelyard version record"):
        migrate.upgrade(fresh_database, SCHEMA)
    _assert_one_line(
        _cli("db", "upgrade", database_url=fresh_database), "no modelyard version record"
    )


def test_upgrade_of_an_unreachable_database_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable):
        migrate.upgrade(_unreachable_url(), SCHEMA)
    with pytest.raises(DatabaseUnavailable):
        migrate.status(_unreachable_url(), SCHEMA)


def test_gc_without_a_schema_is_schema_outdated(fresh_database: str) -> None:
    with pytest.raises(SchemaOutdated):
        asyncio.run(collect(fresh_database, SCHEMA, deleted_before=NOW, receipts_before=NOW))
    _assert_one_line(_cli("gc", "--quiet", database_url=fresh_database), "modelyard db upgrade")


def test_gc_and_backup_of_an_unreachable_database(tmp_path: Path) -> None:
    url = _unreachable_url()
    with pytest.raises(DatabaseUnavailable):
        asyncio.run(collect(url, SCHEMA, deleted_before=NOW, receipts_before=NOW))
    with pytest.raises(DatabaseUnavailable):
        backup(url, SCHEMA, tmp_path / "x.tar")
    _assert_one_line(_cli("gc", "--quiet", database_url=url), "database unavailable")
    _assert_one_line(
        _cli("backup", str(tmp_path / "x.tar"), database_url=url), "database unavailable"
    )
