"""Restore refuses to overwrite data unless told to, and refuses archives it cannot apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from backup_helpers import SCHEMA, contents, rewrite, schema_exists

from modelyard.backup import restore
from modelyard.backup.restore import latest_schema_version
from modelyard.errors import BackupCorrupted, RestoreRefused


def _add_experiment(dsn: str, name: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"INSERT INTO {SCHEMA}.experiment (workspace_id, name) VALUES (1, %s)", [name])


def test_non_empty_target_is_refused_and_untouched(archive: Path, populated: str) -> None:
    _add_experiment(populated, "precious")
    before = contents(populated)
    with pytest.raises(RestoreRefused, match=r"not empty.*--replace"):
        restore(populated, SCHEMA, archive)
    assert contents(populated) == before


def test_replace_swaps_the_schema_for_the_archive(populated: str, archive: Path) -> None:
    backed_up = contents(populated)
    _add_experiment(populated, "to be replaced")
    assert contents(populated) != backed_up
    restore(populated, SCHEMA, archive, replace=True)
    assert contents(populated) == backed_up


def test_empty_schema_is_restored_into_without_replace(
    populated: str, archive: Path, fresh_database: str
) -> None:
    with psycopg.connect(fresh_database) as conn:
        conn.execute(f"CREATE SCHEMA {SCHEMA}")
    restore(fresh_database, SCHEMA, archive)
    assert contents(fresh_database) == contents(populated)


def test_restore_twice_needs_replace(populated: str, archive: Path, fresh_database: str) -> None:
    restore(fresh_database, SCHEMA, archive)
    with pytest.raises(RestoreRefused):
        restore(fresh_database, SCHEMA, archive)
    restore(fresh_database, SCHEMA, archive, replace=True)
    assert contents(fresh_database) == contents(populated)


def test_newer_schema_version_is_refused(archive: Path, populated: str) -> None:
    newer = latest_schema_version() + 1

    def bump(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "schema_version": newer}

    rewrite(archive, manifest=bump, reseal=True)
    _add_experiment(populated, "newer than the archive")
    before = contents(populated)
    with pytest.raises(RestoreRefused, match=f"schema version {newer} is newer"):
        restore(populated, SCHEMA, archive, replace=True)
    assert contents(populated) == before


def test_other_schema_name_is_refused(archive: Path, fresh_database: str) -> None:
    with pytest.raises(RestoreRefused, match="holds schema ml_model_schema, not other_schema"):
        restore(fresh_database, "other_schema", archive)
    assert not schema_exists(fresh_database)


def test_archive_with_an_artifact_of_no_known_layout_is_refused(
    archive: Path, fresh_database: str
) -> None:
    """Only blobs of file:// stores named by their sha256 are restored (test_artifacts.py)."""
    import hashlib

    data = b"model weights"

    def add_artifact(body: dict[str, Any]) -> dict[str, Any]:
        path = "artifacts/local/1/abc/model.bin"
        body["files"].append(
            {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        )
        body["artifacts"] = [{"path": path, "store": "local", "uri": "file:///a/model.bin"}]
        return body

    rewrite(
        archive,
        manifest=add_artifact,
        reseal=True,
        add={"artifacts/local/1/abc/model.bin": data},
    )
    with pytest.raises(BackupCorrupted, match="bad artifact store URL 'local'"):
        restore(fresh_database, SCHEMA, archive)
    assert not schema_exists(fresh_database)


def test_restore_into_another_collation_still_matches(
    pg_server: str, populated: str, archive: Path
) -> None:
    """Checksums sort text keys in "C" order, so a target database's collation cannot matter."""
    from modelyard.db.conninfo import with_database

    name = "modelyard_t_icu_backup"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        try:
            conn.execute(
                f"CREATE DATABASE {name} TEMPLATE template0 LOCALE 'C' "
                "LOCALE_PROVIDER icu ICU_LOCALE 'en'"
            )
        except psycopg.errors.FeatureNotSupported:
            pytest.skip("this PostgreSQL build has no ICU")
    try:
        target = with_database(pg_server, name)
        with psycopg.connect(populated) as conn:  # keys whose order differs between C and en
            conn.execute(
                f"INSERT INTO {SCHEMA}.experiment_tag (experiment_id, key, value, workspace_id) "
                f"SELECT min(experiment_id), k, 'v', 1 FROM {SCHEMA}.experiment, "
                "unnest(ARRAY['B', 'a', 'Z', '_x', 'é']) AS k GROUP BY k"
            )
        archive.unlink()
        from modelyard.backup import backup

        backup(populated, SCHEMA, archive)
        restore(target, SCHEMA, archive)
        assert contents(target) == contents(populated)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
