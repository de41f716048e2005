"""The embedded PostgreSQL server modelyard uses when no database URL is given.

``EmbeddedPostgres(data_dir).session()`` yields a running ``Server`` (with ``.dsn(dbname)``),
starting one if needed; see ``launcher`` for the data directory layout and sharing rules.
"""

from __future__ import annotations

from modelyard.embedded._paths import default_data_dir, pg_tool, wheel_bin_dir
from modelyard.embedded.errors import (
    BinariesNotFound,
    EmbeddedPostgresError,
    InitdbFailed,
    LockTimeout,
    NotAnswering,
    PrivilegeError,
    StartFailed,
    StopFailed,
)
from modelyard.embedded.launcher import EmbeddedPostgres, Server

__all__ = [
    "BinariesNotFound",
    "EmbeddedPostgres",
    "EmbeddedPostgresError",
    "InitdbFailed",
    "LockTimeout",
    "NotAnswering",
    "PrivilegeError",
    "Server",
    "StartFailed",
    "StopFailed",
    "default_data_dir",
    "pg_tool",
    "wheel_bin_dir",
]
