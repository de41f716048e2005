"""``modelyard backup`` / ``restore`` as a user runs them: a subprocess, one-line errors, exit 1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backup_helpers import SCHEMA, contents, flip_dump_byte, read_manifest, schema_exists

SRC = Path(__file__).resolve().parents[2] / "src"


def modelyard(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    if database_url is not None:
        env["MODELYARD_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "modelyard", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_backup_verify_restore_round_trip(
    populated: str, fresh_database: str, tmp_path: Path
) -> None:
    archive = tmp_path / "cli.backup"
    made = modelyard("backup", str(archive), database_url=populated)
    assert made.returncode == 0, made.stderr
    manifest = read_manifest(archive)
    assert made.stdout.startswith(f"wrote {archive}: schema {SCHEMA}")
    assert f"{len(manifest.tables)} tables, {manifest.total_rows} rows" in made.stdout
    # Not a terminal: no progress bar drawn on stderr.
    assert made.stderr == ""

    checked = modelyard("backup", "--verify", str(archive))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"ok: {archive}: schema {SCHEMA}")

    restored = modelyard("--database-url", fresh_database, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert contents(fresh_database) == contents(populated)


def test_verify_of_a_corrupted_archive_is_one_line_and_exit_1(
    archive: Path, fresh_database: str
) -> None:
    flip_dump_byte(archive)
    checked = modelyard("backup", "--verify", str(archive))
    assert checked.returncode == 1
    assert (
        checked.stderr
        == "error: database.dump is corrupted: its sha256 does not match the manifest\n"
    )
    assert checked.stdout == ""

    restored = modelyard("restore", str(archive), database_url=fresh_database)
    assert restored.returncode == 1
    assert restored.stderr.count("\n") == 1 and restored.stderr.startswith("error: ")
    assert not schema_exists(fresh_database)


def test_restore_over_data_needs_replace(archive: Path, populated: str) -> None:
    refused = modelyard("restore", str(archive), database_url=populated)
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: schema {SCHEMA} is not empty")
    replaced = modelyard("restore", "--replace", "--quiet", str(archive), database_url=populated)
    assert replaced.returncode == 0, replaced.stderr


def test_backup_and_restore_are_in_help() -> None:
    shown = modelyard("--help")
    assert shown.returncode == 0
    assert "backup" in shown.stdout and "restore" in shown.stdout
    backup_help = modelyard("backup", "--help").stdout
    assert "--verify" in backup_help and "MODELYARD_PG_BIN" in backup_help
