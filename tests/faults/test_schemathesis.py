"""Schemathesis 4 against the served OpenAPI document of ``/api/v1``, with all of its checks.

The ``schemathesis run`` command (as a user runs it) drives a real ``modelyard server`` over a
fresh database through its examples, coverage, fuzzing and stateful phases, with every check
(server errors, status codes, content types, response schemas and headers, negative data
rejected, positive data accepted, undeclared methods, ...). The example count is bounded so the
run takes a few minutes; the seed is fixed so a failure can be replayed.

The totals (operations, test cases, failures) are printed from schemathesis' JSON report. The
run must find no failure at all. Rules that no JSON schema can state are named in the document
by a format (the search grammar, a callable webhook URL), for which the hooks register
generators, or answered with a status the operation declares for a rule that depends on stored
data or DNS (STATE_DEPENDENT below), which the positive-data check then expects for that
operation only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_support import ServerProcess

pytestmark = pytest.mark.faults

HERE = Path(__file__).parent
MAX_EXAMPLES = 5
SEED = int(os.environ.get("MODELYARD_SCHEMATHESIS_SEED", "12"))  # another seed: explore
# Statuses a schema-valid request may get besides schemathesis's defaults (2xx, 3xx, 401, 403,
# 404, 409, 429): each answers a rule no request can know beforehand, is declared for that
# operation in the document, and is checked for exactly that operation.
STATE_DEPENDENT: dict[str, tuple[str, str]] = {
    # A range past the end of the file depends on the stored file's size.
    "GET /api/v1/runs/{run_id}/artifacts/{path}": ("416", "a range outside the stored file"),
    # Whether a URL may be called depends on DNS and --webhook-allow-private.
    "POST /api/v1/webhooks": ("422", "the webhook host is refused by what it resolves to"),
    "PATCH /api/v1/webhooks/{webhook_id}": ("422", "the webhook host is refused"),
    "POST /api/v1/webhooks/{webhook_id}/test": ("422", "the webhook host is refused"),
}
_DEFAULT_ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]


def _config(path: Path) -> Path:
    """A schemathesis.toml adding STATE_DEPENDENT's statuses to the positive-data check."""
    blocks = []
    for operation, (status, _why) in STATE_DEPENDENT.items():
        statuses = ", ".join(f'"{s}"' for s in [*_DEFAULT_ACCEPTED, status])
        blocks.append(
            f"[[operations]]\ninclude-name = {json.dumps(operation)}\n"
            f"checks.positive_data_acceptance.expected-statuses = [{statuses}]\n"
        )
    path.write_text("\n".join(blocks))
    return path


def _schemathesis() -> str:
    command = Path(sys.executable).with_name("schemathesis")
    if not command.exists():
        pytest.skip(f"schemathesis is not installed next to {sys.executable} (the test extra)")
    return str(command)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(database_url, tmp_path, args=("--no-webhook-dispatcher",))
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_schemathesis_finds_no_failure(server: ServerProcess, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        _schemathesis(), "--config-file", str(_config(tmp_path / "schemathesis.toml")),
        "run", f"{server.url}/api/v1/openapi.json",
        "--checks", "all",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report),
    ]  # fmt: skip
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
        ),
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "NO_COLOR": "1",
    }
    run = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
    )
    assert report.exists(), run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads(report.read_text())
    found = [
        (failure["code"], operation)
        for failure in result["failures"]
        for operation in failure["operations"]
    ]
    operations, cases = result["operations"], result["test_cases"]
    phases = ", ".join(f"{name} {phase['status']}" for name, phase in result["phases"].items())
    print(
        f"\nschemathesis {result['schemathesis_version']}: {operations['tested']} operations "
        f"tested of {operations['total']}, {cases['generated']} test cases, "
        f"phases: {phases}; "
        f"failures {len(found)}, "
        f"errors {len(result['errors'])}"
    )
    assert operations["errored"] == 0 and not result["errors"], run.stdout[-6000:]
    assert operations["tested"] == operations["total"]
    assert not found, "\n".join(map(str, found)) + "\n" + run.stdout[-12000:]
