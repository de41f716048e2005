"""Fixtures of the backup tests: a populated database and a backup of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_helpers import SCHEMA, populate

from modelyard.backup import backup


@pytest.fixture
def populated(database_url: str) -> str:
    """DSN of a database holding the full populated schema (see populate.sql)."""
    populate(database_url)
    return database_url


@pytest.fixture
def archive(populated: str, tmp_path: Path) -> Path:
    """A backup archive of ``populated``."""
    path = tmp_path / "modelyard.backup"
    backup(populated, SCHEMA, path)
    return path
