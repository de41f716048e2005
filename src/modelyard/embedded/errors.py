"""Exceptions raised by the embedded PostgreSQL launcher.

All derive from ``modelyard.errors.EmbeddedPostgresError``, so callers may catch that one class.
Every message is one line naming the data directory, user or program involved, fit to show a
user as is.
"""

from __future__ import annotations

from modelyard.errors import EmbeddedPostgresError


class BinariesNotFound(EmbeddedPostgresError):
    """A PostgreSQL program (initdb, pg_ctl, pg_dump...) is missing from the bin directory."""


class InitdbFailed(EmbeddedPostgresError):
    """initdb could not create the cluster."""


class StartFailed(EmbeddedPostgresError):
    """The server did not start, or did not become ready in time."""


class StopFailed(EmbeddedPostgresError):
    """The server did not shut down in time."""


class NotAnswering(EmbeddedPostgresError):
    """A postmaster runs on the data directory but does not accept our connections."""


class LockTimeout(EmbeddedPostgresError):
    """Another process held the data directory's lock for too long."""


class PrivilegeError(EmbeddedPostgresError):
    """Running as root, and neither a user namespace nor an unprivileged user is usable."""


__all__ = [
    "BinariesNotFound",
    "EmbeddedPostgresError",
    "InitdbFailed",
    "LockTimeout",
    "NotAnswering",
    "PrivilegeError",
    "StartFailed",
    "StopFailed",
]
