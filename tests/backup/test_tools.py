"""Finding pg_dump/pg_restore of the right major version, and progress reporting."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from backup_helpers import SCHEMA, read_manifest

from modelyard.backup import backup
from modelyard.backup.dump import find_tool, tool_env
from modelyard.errors import BackupError
from modelyard.progress import Advance


def test_missing_major_version_is_a_clear_error() -> None:
    with pytest.raises(BackupError, match=r"no pg_dump for PostgreSQL 9 found.*--pg-bin"):
        find_tool("pg_dump", [9])


def test_tool_of_the_server_major_is_found(pg_server: str) -> None:
    with psycopg.connect(pg_server) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int / 10000")
        major = row.fetchone()[0]  # type: ignore[index]
    for name in ("pg_dump", "pg_restore"):
        tool = find_tool(name, [major])
        assert tool.major == major and tool.path.name == name


def test_password_goes_to_the_environment_not_the_command_line() -> None:
    conninfo, env = tool_env("postgresql://app:s3cret@db.example:5433/ml")
    assert "s3cret" not in conninfo and "port=5433" in conninfo
    assert env["PGPASSWORD"] == "s3cret"


class Recorder:
    """A Progress that remembers each phase's total and how far it advanced."""

    def __init__(self) -> None:
        self.phases: dict[str, tuple[int | None, int]] = {}

    @contextmanager
    def phase(self, description: str, total: int | None) -> Iterator[Advance]:
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n

        yield advance
        self.phases[description] = (total, done)


def test_progress_covers_dump_and_checksums(populated: str, tmp_path: Path) -> None:
    recorder = Recorder()
    backup(populated, SCHEMA, tmp_path / "p.backup", recorder)
    manifest = read_manifest(tmp_path / "p.backup")
    # pg_dump reports each table it dumps the rows of: every table of the manifest, but the
    # partitioned audit log as its months, so the bar counts those (and ends full).
    with psycopg.connect(populated) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind = 'r'",
            [SCHEMA],
        ).fetchone()
    assert row is not None and row[0] >= len(manifest.tables)
    assert recorder.phases == {
        "pg_dump": (row[0], row[0]),
        "checksums": (manifest.total_rows, manifest.total_rows),
    }
