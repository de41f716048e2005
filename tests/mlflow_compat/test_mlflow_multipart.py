"""MLflow's multipart upload through the artifact proxy, in small parts: the real client on both
stores (a ``file://`` store takes the assembled file over by a rename), parts in any order, and
what is refused (parts of another size, a wrong ETag, a missing or cut-off part, a part sent
twice at once, an aborted upload), each leaving nothing visible."""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from mlflow import MlflowClient
from mlflow_server import RunningServer, started_server

MPU = "/api/2.0/mlflow-artifacts/mpu"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
MB = 1024 * 1024


@pytest.fixture(params=["postgresql", "file"])
def store_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
def server(
    store_kind: str, runtime_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningServer]:
    if store_kind == "file":
        monkeypatch.setenv("MODELYARD_ARTIFACT_STORE", f"file://{tmp_path / 'store'}")
    else:
        monkeypatch.delenv("MODELYARD_ARTIFACT_STORE", raising=False)
    with started_server(runtime_url, tmp_path) as running:
        yield running


@pytest.fixture
def client(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    # Multipart from 1 MiB on, in parts of 1 MiB: a few MiB take the path the client
    # takes for 500 MB and more by default.
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", str(MB))
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", str(MB))
    # server-info offers no multipart (one streamed PUT is faster); the client may still ask.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    return MlflowClient(tracking_uri=server.url, registry_uri=server.url)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(tmp_path: Path) -> list[str]:
    """Files the uploads left in the multipart spool or the file store's staging area."""
    places = [tmp_path / "data" / "mlflow-multipart", tmp_path / "store" / "staging"]
    return sorted(str(p) for place in places if place.exists() for p in place.rglob("*"))


def test_the_client_uploads_in_parts_to_either_store(
    client: MlflowClient, store_kind: str, tmp_path: Path
) -> None:
    run_id = client.create_run("0").info.run_id
    data = os.urandom(3 * MB + 12345)  # three whole parts and a short last one
    source = tmp_path / "weights.bin"
    source.write_bytes(data)

    client.log_artifact(run_id, str(source), "checkpoints")

    # The multipart path was taken (create made the spool) and left nothing behind.
    assert (tmp_path / "data" / "mlflow-multipart").is_dir()
    assert _leftovers(tmp_path) == []
    listed = client.list_artifacts(run_id, "checkpoints")
    assert [(f.path, f.file_size) for f in listed] == [("checkpoints/weights.bin", len(data))]
    got = client.download_artifacts(run_id, "checkpoints/weights.bin", str(tmp_path / "got"))
    assert _sha(Path(got).read_bytes()) == _sha(data)
    if store_kind == "file":
        digest = _sha(data)
        blob = tmp_path / "store" / "blobs" / digest[:2] / digest[2:4] / digest
        assert blob.read_bytes() == data and blob.stat().st_mode & 0o777 == 0o600


def test_left_to_server_info_the_client_sends_one_streamed_put(
    client: MlflowClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD")
    run_id = client.create_run("0").info.run_id
    data = os.urandom(2 * MB + 1)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    client.log_artifact(run_id, str(source))
    assert not (tmp_path / "data" / "mlflow-multipart").exists()  # no multipart upload
    got = client.download_artifacts(run_id, "big.bin", str(tmp_path / "got"))
    assert Path(got).read_bytes() == data


def _create(url: str, run_id: str, num_parts: int, name: str = "w.bin") -> dict[str, object]:
    answer = httpx.post(
        f"{url}{MPU}/create/0/{run_id}/artifacts/parts",
        json={"path": f"/somewhere/local/{name}", "num_parts": num_parts},
    )
    assert answer.status_code == 200, answer.text
    created: dict[str, object] = answer.json()
    return created


def _part_url(created: dict[str, object], number: int) -> str:
    credentials = created["credentials"]
    assert isinstance(credentials, list)
    url: str = credentials[number - 1]["url"]
    return url


def _complete(url: str, run_id: str, upload_id: object, etags: list[str]) -> httpx.Response:
    parts = [{"part_number": n, "etag": etag} for n, etag in enumerate(etags, start=1)]
    return httpx.post(
        f"{url}{MPU}/complete/0/{run_id}/artifacts/parts",
        json={"path": "w.bin", "upload_id": upload_id, "parts": parts},
    )


def _listed(url: str, run_id: str) -> object:
    return httpx.get(f"{url}{PROXY}", params={"path": f"0/{run_id}/artifacts/parts"}).json()


def test_parts_in_any_order_land_in_place(
    client: MlflowClient, server: RunningServer, tmp_path: Path
) -> None:
    run_id = client.create_run("0").info.run_id
    pieces = [os.urandom(MB), os.urandom(MB), os.urandom(1000)]
    created = _create(server.url, run_id, 3)
    etags = {}
    for number in (3, 1, 2):  # the last part first, before any part told the part size
        answer = httpx.put(_part_url(created, number), content=pieces[number - 1])
        assert answer.status_code == 200, answer.text
        etags[number] = answer.headers["etag"]
        assert etags[number] == f'"{_sha(pieces[number - 1])}"'
    assert _listed(server.url, run_id) == {}  # nothing visible before complete

    done = _complete(server.url, run_id, created["upload_id"], [etags[n] for n in (1, 2, 3)])
    assert (done.status_code, done.json()) == (200, {})
    got = httpx.get(f"{server.url}{PROXY}/0/{run_id}/artifacts/parts/w.bin")
    assert got.content == b"".join(pieces)
    assert got.headers["x-artifact-sha256"] == _sha(b"".join(pieces))
    assert _leftovers(tmp_path) == []


def test_refused_parts_and_completions_leave_nothing(
    client: MlflowClient, server: RunningServer, tmp_path: Path
) -> None:
    url = server.url
    run_id = client.create_run("0").info.run_id
    created = _create(url, run_id, 3)
    first = httpx.put(_part_url(created, 1), content=b"a" * 1000)
    assert first.status_code == 200
    # Every part but the last has the first one's size: that is where the next ones go.
    other = httpx.put(_part_url(created, 2), content=b"b" * 999)
    assert (other.status_code, other.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    longer = httpx.put(_part_url(created, 3), content=b"c" * 1001)
    assert longer.status_code == 400
    beyond = httpx.put(_part_url(created, 1).rsplit("/", 1)[0] + "/4", content=b"x")
    assert beyond.status_code == 400

    # Part 2 is cut off mid-way: the server drops it, and complete says it never came.
    _cut_off_put(_part_url(created, 2), declared=1000, sent=b"b" * 10)
    third = httpx.put(_part_url(created, 3), content=b"c" * 10)
    missing = _complete(url, run_id, created["upload_id"], [first.headers["etag"], "x", "y"])
    assert (missing.status_code, missing.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "part 2 was never uploaded" in missing.json()["message"]

    second = httpx.put(_part_url(created, 2), content=b"b" * 1000)
    etags = [first.headers["etag"], second.headers["etag"], third.headers["etag"]]
    wrong = _complete(url, run_id, created["upload_id"], [*etags[:2], '"' + "0" * 64 + '"'])
    assert wrong.status_code == 400 and "part 3 has another ETag" in wrong.json()["message"]
    assert _listed(url, run_id) == {}

    aborted = httpx.post(
        f"{url}{MPU}/abort/0/{run_id}/artifacts/parts",
        json={"path": "w.bin", "upload_id": created["upload_id"]},
    )
    assert (aborted.status_code, aborted.json()) == (200, {})
    late = httpx.put(_part_url(created, 1), content=b"a" * 1000)
    assert (late.status_code, late.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    gone = _complete(url, run_id, created["upload_id"], etags)
    assert gone.status_code == 404
    assert _listed(url, run_id) == {}
    assert _leftovers(tmp_path) == []

    # Server-owned paths only: the URL's directory and the local file's name are checked.
    for directory in ("%2e%2e/%2e%2e/x", "../../../../etc"):
        refused = httpx.post(
            f"{url}{MPU}/create/0/{run_id}/artifacts/{directory}",
            json={"path": "w.bin", "num_parts": 1},
        )
        assert refused.status_code in (400, 404), directory
    sneaky = httpx.post(
        f"{url}{MPU}/create/0/{run_id}/artifacts/parts", json={"path": "..", "num_parts": 1}
    )
    assert (sneaky.status_code, sneaky.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")


def _cut_off_put(url: str, *, declared: int, sent: bytes) -> None:
    """A PUT that promises ``declared`` bytes, sends ``sent`` and hangs up."""
    where = urlsplit(url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        head = (
            f"PUT {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
            f"Content-Length: {declared}\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)


def test_one_part_is_written_by_one_request_at_a_time(
    client: MlflowClient, server: RunningServer, tmp_path: Path
) -> None:
    run_id = client.create_run("0").info.run_id
    created = _create(server.url, run_id, 2)
    where = urlsplit(_part_url(created, 1))
    lock = tmp_path / "data" / "mlflow-multipart" / str(created["upload_id"]) / "part-1.lock"
    with socket.create_connection((where.hostname, where.port), timeout=10) as slow:
        head = f"PUT {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\nContent-Length: 1000\r\n\r\n"
        slow.sendall(head.encode() + b"a" * 10)
        _wait_until_locked(lock)
        second = httpx.put(_part_url(created, 1), content=b"b" * 1000)
        assert (second.status_code, second.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        assert "part 1 is being uploaded by another request" in second.json()["message"]
        slow.sendall(b"a" * 990)
        assert slow.recv(12) == b"HTTP/1.1 200"
    assert _leftovers(tmp_path) != []  # the upload is still open: its folder is there


def _wait_until_locked(lock: Path) -> None:
    """Until the server holds ``lock`` (the slow request is inside the part's writer)."""
    for _ in range(500):
        if lock.exists():
            with lock.open("rb") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                fcntl.flock(handle, fcntl.LOCK_UN)
        time.sleep(0.02)
    raise AssertionError(f"the server never locked {lock}")
