"""Training code that imports modelyard loads the client only: no psycopg, no pool, no store."""

from __future__ import annotations

import subprocess
import sys

import pytest

# What a training script touches; each is imported in a fresh interpreter.
CLIENT_IMPORTS = [
    "modelyard",
    "modelyard.client",
    "modelyard.client.client",
    "modelyard.client.fluent",
    "modelyard.client._model_files",
]

_REPORT = """
import sys
import {module}
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("psycopg", "psycopg_pool", "psycopg_binary")
    or name.startswith(("modelyard.store", "modelyard.db", "modelyard.server"))
)
print(",".join(loaded))
"""


@pytest.mark.parametrize("module", CLIENT_IMPORTS)
def test_importing_the_client_keeps_the_database_layer_out(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _REPORT.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "", f"import {module} loaded: {done.stdout.strip()}"
