"""Typed settings shared by the CLI, the server and the tools.

The CLI resolves every value from its flag, then its ``MODELYARD_*`` environment variable, then
the default (click does this, and ``--help`` shows the variable), and passes one ``Settings``
object down: the server and the store never read the environment. The only other readers are
the Python client (``MODELYARD_URL``, ``MODELYARD_TOKEN``, ``MODELYARD_WORKSPACE``, for training
code that has no CLI in front of it) and the CLI's error handler (``MODELYARD_DEBUG``, to show a
traceback).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.db.conninfo import DEFAULT_DATABASE, DEFAULT_SCHEMA


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/modelyard``, or ``~/.local/share/modelyard``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "modelyard"


@dataclass(frozen=True)
class Settings:
    """Where the data lives and how to serve it."""

    database_url: str | None = None
    data_dir: Path = field(default_factory=default_data_dir)
    # As root where user namespaces are blocked: the existing unprivileged account that runs the
    # embedded PostgreSQL.
    pg_user: str | None = None
    schema: str = DEFAULT_SCHEMA
    database_name: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    pool_min_size: int = 2
    pool_max_size: int = 10
    # Off behind poolers that cannot carry server-side prepared statements (PgBouncer < 1.21).
    prepared_statements: bool = True
    log_level: str = "warning"
    # Where artifacts live: "postgresql" (the default), "file:///dir" or "s3://bucket/prefix".
    artifact_store: str = "postgresql"
    # Largest artifact file accepted, in bytes (413 above it).
    max_artifact_bytes: int = 20 * 1024**3
    # Largest request body accepted, in bytes (a 100,000-point metric batch is ~5 MB of JSON).
    max_body_bytes: int = 64 * 1024 * 1024
    # Seconds a JSON API request may take before it answers 504 (streamed artifact bodies have
    # no deadline: a large upload may take hours).
    request_timeout: float = 30.0
    # Set by the runner with several workers: where they share their Prometheus counters.
    metrics_dir: Path | None = None
    # Signs the web UI's CSRF tokens. None: the server makes a random one at start (the runner,
    # before forking, so all workers share it); there is no default secret.
    ui_secret: bytes | None = None
    # Require an API token on every request but /health and /ready (docs/security.md). The CLI
    # turns it on by default when the server binds to a non-loopback address.
    auth: bool = False
    # With auth on, serve even when the database role bypasses row-level security (a superuser,
    # BYPASSRLS, an owner of the schema's objects); off: such a server refuses to start.
    allow_rls_bypass: bool = False
    # With auth on: /metrics needs a server admin's token too (off: Prometheus scrapes it freely).
    metrics_auth: bool = False
    # Webhooks (docs/webhooks.md). Plain http and loopback/private receivers only when allowed.
    webhook_allow_private: bool = False
    # A Fernet key; None: the data directory's webhook-secret.key (made on first use).
    webhook_secret_key: str | None = None
    # Run the delivery dispatcher inside the server (off when `modelyard worker` runs it).
    webhook_dispatcher: bool = True
    webhook_timeout: float = 10.0
    webhook_retry_horizon: float = 24 * 3600.0
    webhook_backoff_base: float = 1.0
    webhook_backoff_max: float = 600.0
    webhook_concurrency: int = 16
    webhook_poll_interval: float = 5.0

    @property
    def embedded(self) -> bool:
        """True when modelyard runs its own PostgreSQL in ``data_dir``."""
        return self.database_url is None
