"""Helpers shared by the launcher tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PG15_BIN = Path("/usr/lib/postgresql/15/bin")
SRC = Path(__file__).resolve().parents[2] / "src"
# A throwaway server need not survive an OS crash; these make initdb and start faster.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}

# Holds a session open until its stdin closes, printing what it got as one JSON line.
SESSION_CHILD = """
import json, sys
from modelyard.embedded import EmbeddedPostgres
with EmbeddedPostgres(sys.argv[1], settings={"fsync": "off"}).session() as server:
    print(json.dumps({"pid": server.pid, "port": server.port, "owned": server.owned}), flush=True)
    sys.stdin.read()
"""


def start_session_child(data_dir: Path) -> subprocess.Popen[str]:
    """Run SESSION_CHILD in a new Python process on ``data_dir``."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", SESSION_CHILD, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
