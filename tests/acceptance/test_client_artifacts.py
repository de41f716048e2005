"""Run artifacts from the Python client against a real server process: upload, list, download
(file and directory), delete; streamed with bounded memory, verified by sha256 on the way down."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from cli_support import free_port, start_server, stop_server

import modelyard
from modelyard.client._transfer import BLOCK, TransferInterrupted
from modelyard.errors import (
    ArtifactCorrupted,
    InvalidArtifactPath,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)


@pytest.fixture
def run_id(server_url: str) -> str:
    with modelyard.Client(server_url) as client:
        experiment = client.get_or_create_experiment("artifacts")
        return str(client.create_run(experiment["experiment_id"])["run_id"])


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_files_and_directories_round_trip(server_url: str, run_id: str, tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "weights").mkdir(parents=True)
    (source / "weights" / "w.bin").write_bytes(os.urandom(BLOCK + 17))
    (source / "résumé ✓.txt").write_text("unicode names survive")
    (source / "empty").write_bytes(b"")
    single = tmp_path / "notes.txt"
    single.write_bytes(b"\x00binary\xff")
    with modelyard.Client(server_url) as client:
        stored = client.upload_artifact(run_id, single)
        assert stored == {
            "path": "notes.txt",
            "size": 8,
            "sha256": hashlib.sha256(b"\x00binary\xff").hexdigest(),
        }
        client.upload_artifacts(run_id, source, "model")
        assert client.upload_artifact(run_id, single, "docs/a")["path"] == "docs/a/notes.txt"

        root = client.list_artifacts(run_id)
        assert [(e["name"], e["is_dir"]) for e in root] == [
            ("docs", True),
            ("model", True),
            ("notes.txt", False),
        ]
        listed = {e["path"]: e for e in client.list_artifacts(run_id, "model", recursive=True)}
        assert set(listed) == {"model/empty", "model/weights/w.bin", "model/résumé ✓.txt"}
        assert listed["model/empty"]["size"] == 0

        one = client.download_artifact(run_id, "notes.txt", tmp_path / "one")
        assert one == tmp_path / "one" / "notes.txt" and one.read_bytes() == b"\x00binary\xff"
        written = client.download_artifacts(run_id, "model", tmp_path / "dir")
        assert len(written) == 3
        assert _tree(tmp_path / "dir" / "model") == _tree(source)
        everything = client.download_artifacts(run_id, dst=tmp_path / "all")
        assert set(_tree(tmp_path / "all")) == {
            "notes.txt",
            "docs/a/notes.txt",
            *(f"model/{name}" for name in _tree(source)),
        }
        # A file path given to download_artifacts is downloaded as that one file.
        assert client.download_artifacts(run_id, "docs/a/notes.txt", tmp_path / "f") == [
            tmp_path / "f" / "notes.txt"
        ]
        assert len(everything) == 5

        client.delete_artifact(run_id, "model/weights")
        assert "model/weights/w.bin" not in {
            e["path"] for e in client.list_artifacts(run_id, "model", recursive=True)
        }
        with pytest.raises(NotFound):
            client.download_artifact(run_id, "model/weights/w.bin", tmp_path / "gone")
        assert not (tmp_path / "gone").exists() or not any((tmp_path / "gone").iterdir())


def test_the_fluent_run_logs_artifacts(server_url: str, tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "loss.svg").write_text("<svg/>")
    (tmp_path / "report.md").write_text("# done")
    with modelyard.start_run("artifacts", url=server_url) as run:
        run.log_artifact(tmp_path / "report.md")
        run.log_artifacts(tmp_path / "plots", "figures")
    with modelyard.Client(server_url) as client:
        files = client.list_artifacts(run.id, recursive=True)
    assert [f["path"] for f in files] == ["figures/loss.svg", "report.md"]


def test_bad_input_is_refused_before_anything_is_sent(
    server_url: str, run_id: str, tmp_path: Path
) -> None:
    (tmp_path / "f").write_text("x")
    with modelyard.Client(server_url) as client:
        with pytest.raises(InvalidArtifactPath):
            client.upload_artifact(run_id, tmp_path / "f", "../outside")
        with pytest.raises(InvalidArtifactPath):
            client.download_artifact(run_id, "a/../../etc/passwd", tmp_path)
        with pytest.raises(InvalidInput, match="not a file"):
            client.upload_artifact(run_id, tmp_path)
        with pytest.raises(InvalidInput, match="not a directory"):
            client.upload_artifacts(run_id, tmp_path / "f")
        with pytest.raises(InvalidInput, match="whole artifact root"):
            client.delete_artifact(run_id, "")
        with pytest.raises(NotFound):
            client.upload_artifact("0" * 32, tmp_path / "f")


def test_large_files_stream_with_bounded_client_memory(
    server_url: str, run_id: str, tmp_path: Path
) -> None:
    size = 96 * 1024 * 1024
    big = tmp_path / "big.bin"
    with big.open("wb") as handle:
        for _ in range(size // (8 * 1024 * 1024)):
            handle.write(os.urandom(8 * 1024 * 1024))
    with modelyard.Client(server_url, timeout=120) as client:
        tracemalloc.start()
        try:
            client.upload_artifact(run_id, big)
            _, upload_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            client.download_artifact(run_id, "big.bin", tmp_path / "back")
            _, download_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # A few blocks in flight at most, never the file: 96 MiB would show here.
    assert upload_peak < 4 * BLOCK and download_peak < 4 * BLOCK, (upload_peak, download_peak)
    assert _digest(tmp_path / "back" / "big.bin") == _digest(big)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def test_a_corrupted_stored_file_never_arrives(
    server_url: str, run_id: str, tmp_path: Path, database_url: str
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    (tmp_path / "small.bin").write_bytes(b"small and fine")
    with modelyard.Client(server_url) as client:
        client.upload_artifact(run_id, tmp_path / "big.bin")
        client.upload_artifact(run_id, tmp_path / "small.bin")
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE ml_model_schema.artifact_chunk"
                " SET data = set_byte(data, 0, get_byte(data, 0) # 1)"
            )
        out = tmp_path / "out"
        # Several chunks: the server cuts the body short before its last chunk.
        with pytest.raises(TransferInterrupted, match="stopped after"):
            client.download_artifact(run_id, "big.bin", out)
        # One chunk: checked before the answer starts, a typed error from the server.
        with pytest.raises(ArtifactCorrupted):
            client.download_artifact(run_id, "small.bin", out)
        assert list(out.iterdir()) == []


class _LyingServer(httpx.BaseTransport):
    """A server that lists files it does not send as listed (or names outside the target)."""

    def __init__(self, listed_path: str, listed_sha256: str, body: bytes) -> None:
        self.listed_path, self.listed_sha256, self.body = listed_path, listed_sha256, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/artifacts"):
            entry = {
                "name": self.listed_path.rsplit("/", 1)[-1],
                "path": self.listed_path,
                "is_dir": False,
                "size": len(self.body),
                "sha256": self.listed_sha256,
            }
            return httpx.Response(200, json={"path": "d", "files": [entry]})
        return httpx.Response(200, content=self._stream(), headers={"x-artifact-size": "1"})

    def _stream(self) -> Iterator[bytes]:
        yield self.body


def test_a_mismatching_body_is_a_typed_error_and_leaves_no_file(tmp_path: Path) -> None:
    lying = _LyingServer("d/f.bin", hashlib.sha256(b"what was listed").hexdigest(), b"other")
    with modelyard.Client("http://127.0.0.1:9", transport=lying) as client:
        with pytest.raises(ArtifactCorrupted, match="expected"):
            client.download_artifacts("0" * 32, "d", tmp_path)
    assert list(tmp_path.rglob("*")) == [tmp_path / "d"]


@pytest.mark.parametrize("listed", ["d/../../escape.txt", "d/%2e%2e/x", "/etc/passwd", "e/x"])
def test_a_hostile_listing_cannot_write_outside_the_target(tmp_path: Path, listed: str) -> None:
    lying = _LyingServer(listed, hashlib.sha256(b"x").hexdigest(), b"x")
    target = tmp_path / "target"
    with modelyard.Client("http://127.0.0.1:9", transport=lying) as client:
        with pytest.raises(InvalidInput):
            client.download_artifacts("0" * 32, "d", target)
    assert list(tmp_path.rglob("*")) == []


def test_the_size_limit_reaches_the_client_as_a_typed_error(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    process = start_server(
        ["--database-url", database_url], port, server_args=["--max-artifact-mb", "1"]
    )
    try:
        url = f"http://127.0.0.1:{port}"
        (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
        (tmp_path / "ok.bin").write_bytes(b"fits")
        with modelyard.start_run("limits", url=url) as run:
            with pytest.raises(PayloadTooLarge):
                run.log_artifact(tmp_path / "big.bin")
            run.log_artifact(tmp_path / "ok.bin")
            assert [f["path"] for f in run.client.list_artifacts(run.id)] == ["ok.bin"]
    finally:
        stop_server(process)
