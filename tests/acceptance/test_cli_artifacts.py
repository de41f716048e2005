"""``modelyard artifacts upload/list/download`` as a subprocess against a real server."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import modelyard

import modelyard as my


@pytest.fixture
def run_id(server_url: str) -> str:
    with my.Client(server_url) as client:
        experiment = client.get_or_create_experiment("cli-artifacts")
        return str(client.create_run(experiment["experiment_id"])["run_id"])


def test_upload_list_download(server_url: str, run_id: str, tmp_path: Path) -> None:
    env = {"MODELYARD_URL": server_url}
    source = tmp_path / "ckpt"
    (source / "epoch 1").mkdir(parents=True)
    (source / "epoch 1" / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (source / "config.json").write_text("{}")
    (tmp_path / "report.md").write_text("# report")

    done = modelyard("artifacts", "upload", run_id, str(source), "--path", "ckpt", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"uploaded 2 files (3.0 MiB) to run {run_id} under ckpt/\n"
    done = modelyard("artifacts", "upload", run_id, str(tmp_path / "report.md"), "--json", env=env)
    assert done.returncode == 0, done.stderr
    [stored] = json.loads(done.stdout)
    assert stored["path"] == "report.md" and stored["size"] == 8

    listed = modelyard("artifacts", "list", run_id, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert [(e["name"], e["is_dir"]) for e in json.loads(listed.stdout)] == [
        ("ckpt", True),
        ("report.md", False),
    ]
    table = modelyard("artifacts", "list", run_id, "ckpt", env=env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["PATH", "DIR", "SIZE", "SHA256"]
    assert lines[1].split()[0] == "ckpt/config.json" and lines[1].split()[1] == "2"
    assert lines[2].startswith("ckpt/epoch 1/") and "dir" in lines[2]
    recursive = modelyard("artifacts", "list", run_id, "ckpt", "-r", "--json", env=env)
    assert [e["path"] for e in json.loads(recursive.stdout)] == [
        "ckpt/config.json",
        "ckpt/epoch 1/weights.bin",
    ]

    out = tmp_path / "out"
    done = modelyard("artifacts", "download", run_id, "ckpt", "-o", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"downloaded 2 files (3.0 MiB) to {out}\n"
    assert (out / "ckpt" / "epoch 1" / "weights.bin").read_bytes() == (
        source / "epoch 1" / "weights.bin"
    ).read_bytes()
    args = ("artifacts", "download", run_id)
    done = modelyard(*args, "report.md", "-o", str(out), "--json", env=env)
    assert json.loads(done.stdout) == [str(out / "report.md")]
    everything = modelyard(*args, "/", "-o", str(tmp_path / "all"), env=env)
    assert everything.returncode == 0, everything.stderr
    assert (tmp_path / "all" / "report.md").read_text() == "# report"
    assert (tmp_path / "all" / "ckpt" / "config.json").read_text() == "{}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["download", "{run}", "nope.txt"], "error: run {run} has no artifact 'nope.txt'"),
        (["download", "{run}", "../../etc/passwd"], "error: invalid artifact path"),
        (["upload", "{run}", "{file}", "--path", "a/../b"], "error: invalid artifact path"),
        (["list", "0" * 32], f"error: run {'0' * 32} does not exist"),
        (["list", "{run}", "missing"], "error: run {run} has no artifact directory 'missing'"),
    ],
)
def test_failures_are_one_line(
    server_url: str, run_id: str, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "f.txt").write_text("x")
    filled = [a.format(run=run_id, file=tmp_path / "f.txt") for a in args]
    done = modelyard("artifacts", *filled, "--url", server_url)
    assert done.returncode == 1
    assert done.stderr.startswith(message.format(run=run_id)), done.stderr
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_terminal_gets_a_progress_bar(server_url: str, run_id: str, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(8 * 1024 * 1024))
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "modelyard", "artifacts", "upload", run_id, str(big)],
            stdout=subprocess.PIPE,
            stderr=terminal,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "MODELYARD_URL": server_url, "COLUMNS": "120"},
            timeout=120,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        drawn = b""
        while True:
            try:
                piece = os.read(controller, 65536)
            except OSError:  # EIO: the writer side is closed and everything was read
                break
            if not piece:
                break
            drawn += piece
    finally:
        if terminal != -1:
            os.close(terminal)
        os.close(controller)
    assert done.returncode == 0
    assert done.stdout.decode().startswith("uploaded 1 file (8.0 MiB)")
    text = drawn.decode(errors="replace")
    assert "big.bin" in text and "8.0/8.0 MiB" in text, text


def test_a_version_source_outside_the_servers_artifacts_is_refused(
    server_url: str, run_id: str
) -> None:
    env = {"MODELYARD_URL": server_url}
    refused = modelyard("versions", "create", "m1", "--source", "/etc/passwd", env=env)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: source '/etc/passwd' is refused")
    assert len(refused.stderr.splitlines()) == 1
    accepted = modelyard(
        "versions", "create", "m1", "--source", f"runs:/{run_id}/model", "--json", env=env
    )
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["source"] == f"runs:/{run_id}/model"
