"""The MLflow 2.x client's own venv, made once and shared by every test worker.

The 2.x client cannot share a process with the 3.x client the rest of the suite imports, so it
gets a venv of its own (``.venv-mlflow2`` at the repository root, or ``MODELYARD_MLFLOW2_VENV``),
installed from the package index with pip on first use. An exclusive file lock makes concurrent
xdist workers wait for one installer; a marker holding the requirements says the install
finished, so a venv cut short is made again instead of being used.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

# The newest 2.x client on the index, and what its sklearn flavor and pyfunc loading need.
MLFLOW2_VERSION = "2.22.5"
REQUIREMENTS = (f"mlflow-skinny=={MLFLOW2_VERSION}", "scikit-learn>=1.3", "pandas>=2")
ROOT = Path(__file__).resolve().parents[2]
_MARKER = "modelyard-requirements.txt"


def venv_dir() -> Path:
    return Path(os.environ.get("MODELYARD_MLFLOW2_VENV") or ROOT / ".venv-mlflow2")


def ensure() -> Path:
    """The 2.x venv's python, installing the venv first if it is missing or incomplete."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.with_name(venv.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = venv / _MARKER
        if marker.exists() and marker.read_text() == wanted and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        installed = subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        if installed.returncode != 0:
            raise AssertionError(f"could not install {REQUIREMENTS}:\n{installed.stderr[-4000:]}")
        marker.write_text(wanted)
    return python
