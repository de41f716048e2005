"""An archive of a PostgreSQL 15 server restores into 18 with identical checksums, not back.

Needs a second server: set MODELYARD_TEST_OTHER_DSN to an admin DSN of a server of another major
version than the one under test (scripts/test starts both kinds when run without a DSN).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from backup_helpers import SCHEMA, contents, populate
from psycopg import sql

from modelyard.backup import backup, restore
from modelyard.db.conninfo import with_database
from modelyard.db.migrate import upgrade
from modelyard.errors import RestoreRefused

OTHER_DSN = os.environ.get("MODELYARD_TEST_OTHER_DSN")
pytestmark = pytest.mark.skipif(not OTHER_DSN, reason="MODELYARD_TEST_OTHER_DSN is not set")


def _major(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int / 10000")
        return int(row.fetchone()[0])  # type: ignore[index]


@pytest.fixture
def other_database() -> Iterator[str]:
    assert OTHER_DSN is not None
    name = f"modelyard_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(OTHER_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(OTHER_DSN, name)
    with psycopg.connect(OTHER_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_restore_across_major_versions(populated: str, other_database: str, tmp_path: Path) -> None:
    upgrade(other_database, SCHEMA)
    populate(other_database)
    older, newer = sorted([populated, other_database], key=_major)
    assert _major(older) < _major(newer), "MODELYARD_TEST_OTHER_DSN must be another major"
    with psycopg.connect(older) as conn:  # so the restore visibly replaces the newer's rows
        conn.execute(
            f"INSERT INTO {SCHEMA}.experiment (workspace_id, name) VALUES (1, 'only on the older')"
        )
    expected = contents(older)

    archive = tmp_path / "older.backup"
    backup(older, SCHEMA, archive)
    restore(newer, SCHEMA, archive, replace=True)  # checksums recomputed on the newer server
    assert contents(newer) == expected

    newer_archive = tmp_path / "newer.backup"
    backup(newer, SCHEMA, newer_archive)
    with pytest.raises(RestoreRefused, match="older PostgreSQL"):
        restore(older, SCHEMA, newer_archive, replace=True)
    assert contents(older) == expected
