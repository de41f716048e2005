"""A damaged archive is detected by verify, and restore refuses it without touching the target."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from backup_helpers import (
    SCHEMA,
    contents,
    flip_dump_byte,
    rewrite,
    schema_exists,
    truncate,
)

from modelyard.backup import restore, verify
from modelyard.backup.archive import DUMP_MEMBER, MANIFEST_MEMBER
from modelyard.errors import BackupCorrupted, BackupError


def _bump_rows(body: dict[str, Any]) -> dict[str, Any]:
    body["tables"][0]["rows"] += 1
    return body


def _not_a_tar(archive: Path) -> None:
    archive.write_bytes(b"PGDMP not a tar" * 100)


def _foreign_manifest(archive: Path) -> None:
    rewrite(archive, manifest=lambda body: {**body, "format": None})


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "flipped byte in the dump": (flip_dump_byte, "database.dump is corrupted"),
    "truncated file": (truncate, "truncated or damaged|is \\d+ bytes"),
    "edited manifest": (
        lambda a: rewrite(a, manifest=_bump_rows),
        "manifest.json was modified",
    ),
    "not a modelyard manifest": (_foreign_manifest, "not a modelyard backup manifest"),
    "manifest not JSON": (
        lambda a: rewrite(a, add={MANIFEST_MEMBER: b"{not json"}),
        "manifest.json is not valid JSON",
    ),
    "extra member": (
        lambda a: rewrite(a, add={"artifacts/x/model.bin": b"weights"}),
        "artifacts/x/model.bin is not in the manifest",
    ),
    "unexpected member": (lambda a: rewrite(a, add={"notes.txt": b"hi"}), "unexpected archive"),
    "missing dump": (lambda a: rewrite(a, drop=(DUMP_MEMBER,)), "lacks database.dump"),
    "missing manifest": (lambda a: rewrite(a, drop=(MANIFEST_MEMBER,)), "no manifest.json"),
    "not a tar file": (_not_a_tar, "not a modelyard"),
}


@pytest.mark.parametrize("damage", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_verify_names_what_is_wrong(archive: Path, damage: str) -> None:
    corrupt, message = CORRUPTIONS[damage]
    corrupt(archive)
    with pytest.raises(BackupCorrupted, match=message) as caught:
        verify(archive)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize("damage", list(CORRUPTIONS), ids=list(CORRUPTIONS))
def test_restore_of_a_damaged_archive_restores_nothing(
    archive: Path, fresh_database: str, damage: str
) -> None:
    CORRUPTIONS[damage][0](archive)
    with pytest.raises(BackupCorrupted):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)


def test_manifest_disagreeing_with_the_dump_rolls_the_restore_back(
    archive: Path, populated: str
) -> None:
    """A manifest edited and re-sealed passes verify; the post-restore check catches it."""
    rewrite(archive, manifest=_bump_rows, reseal=True)
    verify(archive)
    with psycopg.connect(populated) as conn:  # data the archive lacks, which must survive
        conn.execute(f"DELETE FROM {SCHEMA}.run_param WHERE key = 'param_1'")
    before = contents(populated)
    with pytest.raises(BackupCorrupted, match="restored data does not match the archive"):
        restore(populated, SCHEMA, archive, replace=True)
    assert contents(populated) == before


def test_a_different_checksum_rolls_the_restore_back(archive: Path, fresh_database: str) -> None:
    def change_run_checksum(body: dict[str, Any]) -> dict[str, Any]:
        for table in body["tables"]:
            if table["name"] == "run":
                table["sha256"] = "0" * 64
        return body

    rewrite(archive, manifest=change_run_checksum, reseal=True)
    with pytest.raises(BackupCorrupted, match="table run differs"):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)


def test_newer_archive_format_is_refused(archive: Path) -> None:
    rewrite(archive, manifest=lambda body: {**body, "format_version": 99})
    with pytest.raises(BackupError, match="format version 99 is newer"):
        verify(archive)


def test_missing_archive_file(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="does not exist"):
        verify(tmp_path / "nope.backup")
