"""Artifacts through MLflow's artifact proxy with the real mlflow client: files, nested
directories, unicode names, listing, download, delete, refused paths, and a large file through
the multipart path with the server's memory bounded."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow_server import RunningServer

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _write_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"alpha\n",
        "nested/deeper/b.bin": bytes(range(256)) * 40,
        "données/ünïcødé 文件.txt": "héllo wörld ✓\n".encode(),
        "empty.txt": b"",
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_files_directories_unicode_listing_download(
    client: MlflowClient, modelyard_server: str, tmp_path: Path
) -> None:
    run = client.create_run("0")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"mlflow-artifacts:/0/{run_id}/artifacts"
    sent = _write_tree(tmp_path / "sent")
    client.log_artifacts(run_id, str(tmp_path / "sent"), "inputs")
    client.log_text(run_id, "top level", "notes.md")

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("inputs", True), ("notes.md", False)]
    inner = client.list_artifacts(run_id, "inputs")
    assert [(f.path, f.is_dir, f.file_size) for f in inner] == [
        ("inputs/a.txt", False, 6),
        ("inputs/données", True, None),
        ("inputs/empty.txt", False, 0),
        ("inputs/nested", True, None),
    ]
    assert [f.path for f in client.list_artifacts(run_id, "inputs/données")] == [
        "inputs/données/ünïcødé 文件.txt"
    ]
    assert client.list_artifacts(run_id, "no/such/dir") == []

    got = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="inputs", dst_path=str(tmp_path / "got")
    )
    assert _tree(Path(got)) == sent
    one = client.download_artifacts(run_id, "données/ünïcødé 文件.txt".join(["inputs/", ""]))
    assert Path(one).read_bytes() == sent["données/ünïcødé 文件.txt"]

    # The same files through our own API.
    ours = httpx.get(
        f"{modelyard_server}/api/v1/runs/{run_id}/artifacts",
        params={"path": "inputs", "recursive": "true"},
    ).json()
    assert sorted(f["path"] for f in ours["files"]) == sorted(f"inputs/{n}" for n in sent)

    deleted = httpx.delete(f"{modelyard_server}{PROXY}/0/{run_id}/artifacts/inputs/nested")
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert [f.path for f in client.list_artifacts(run_id, "inputs")] == [
        "inputs/a.txt",
        "inputs/données",
        "inputs/empty.txt",
    ]


def test_paths_outside_the_store_are_refused(client: MlflowClient, modelyard_server: str) -> None:
    run_id = client.create_run("0").info.run_id
    for path in [
        f"0/{run_id}/artifacts/%2e%2e/%2e%2e/x",
        "etc/passwd",
        f"0/{run_id}/elsewhere/x",
        f"0/{run_id}/artifacts/a%255c..",
    ]:
        answer = httpx.put(f"{modelyard_server}{PROXY}/{path}", content=b"x")
        assert answer.status_code == 400, path
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", path
    elsewhere = httpx.put(f"{modelyard_server}{PROXY}/5/{run_id}/artifacts/x", content=b"x")
    assert (elsewhere.status_code, elsewhere.json()["error_code"]) == (
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    missing = httpx.get(f"{modelyard_server}{PROXY}/0/{run_id}/artifacts/nothing")
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def _random_file(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    block = os.urandom(8 * 1024 * 1024)
    with path.open("wb") as out:
        written = 0
        while written < size:
            piece = block[: size - written]
            # A fresh first byte per block keeps the blocks distinct for any content check.
            piece = bytes([written // len(block) % 256]) + piece[1:]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


@pytest.mark.slow
def test_large_file_goes_through_multipart_with_bounded_memory(
    client: MlflowClient,
    running_server: RunningServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    size = int(os.environ.get("MODELYARD_MLFLOW_LARGE_MB", "600")) * 1024 * 1024
    # server-info offers no multipart (a single PUT is faster here); the client may still ask.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(min(size, 500 * 1024**2)))
    run_id = client.create_run("0").info.run_id
    source = tmp_path / "weights.bin"
    sent = _random_file(source, size)
    baseline = running_server.peak_rss_bytes()

    client.log_artifact(run_id, str(source), "checkpoints")

    # The multipart spool was used (its directory exists) and emptied by complete.
    spool = tmp_path / "data" / "mlflow-multipart"
    assert spool.is_dir() and not any(spool.iterdir())
    listed = client.list_artifacts(run_id, "checkpoints")
    assert [(f.path, f.file_size) for f in listed] == [("checkpoints/weights.bin", size)]
    got = Path(client.download_artifacts(run_id, "checkpoints/weights.bin", str(tmp_path / "g")))
    digest = hashlib.sha256()
    with got.open("rb") as data:
        while block := data.read(8 * 1024 * 1024):
            digest.update(block)
    assert digest.hexdigest() == sent
    # The server streamed: its peak memory grew by far less than the file.
    assert running_server.peak_rss_bytes() - baseline < 128 * 1024 * 1024
