"""Streaming artifact files between local disk and a server, both ways, verified by sha256.

Uploads read the file in blocks and send them as one request body with its ``Content-Length``
(so a server with a smaller size limit refuses it before any byte is stored), hashing as they
go; the server's answer must carry the same digest. Downloads write to a hidden temporary file
beside the target while hashing, and only a file whose size and sha256 match what the server
announced is renamed into place; on any failure the temporary file is removed, so a target path
holds either the whole verified file or nothing new. Neither side ever holds more than one block.

Every path a server sends back goes through :func:`modelyard.artifacts.paths.check_path` before
it becomes a local file name, so a hostile server cannot make a download write outside the
chosen directory.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import httpx

from modelyard.artifacts import paths
from modelyard.client._http import HttpSession, ServerUnreachable, raise_for
from modelyard.errors import ArtifactCorrupted, InvalidInput
from modelyard.progress import Advance, Progress

# Bytes per read from disk or from the socket: large enough that per-block overhead (a syscall,
# a hash update, a Python loop turn) vanishes next to the copying, small enough to stay cheap.
BLOCK = 4 * 1024 * 1024
Json = dict[str, Any]


class TransferInterrupted(ServerUnreachable):
    """A download ended before its announced size: the connection broke, or the server found
    the stored file corrupted and cut the body short (it never sends bad bytes as good)."""

    code = "TRANSFER_INTERRUPTED"


@dataclass(frozen=True)
class RemoteFile:
    """A file of a run's artifacts as a listing reports it."""

    path: str
    size: int
    sha256: str


def artifact_url(run_id: str, path: str) -> str:
    """The REST path of one artifact file (run id and path escaped; ``/`` kept as separator)."""
    return f"/runs/{quote(str(run_id), safe='')}/artifacts/{quote(path, safe='/')}"


def _blocks(handle: Any, size: int, digest: Any, advance: Advance) -> Iterator[bytes]:
    """At most ``size`` bytes of ``handle`` in blocks, hashed and counted as they are sent.

    A block is hashed in a worker thread while it is being sent (hashlib and socket writes
    both release the GIL), so hashing does not add to the transfer's time when a core is free.
    """
    left = size
    with ThreadPoolExecutor(1, thread_name_prefix="modelyard-sha256") as hasher:
        while left > 0:
            block = handle.read(min(BLOCK, left))
            if not block:
                break
            left -= len(block)
            hashed = hasher.submit(digest.update, block)
            advance(len(block))
            yield block
            hashed.result()
    if left:
        raise InvalidInput(f"the file shrank while it was being uploaded ({left} bytes short)")


def upload_file(
    session: HttpSession, run_id: str, path: str, local: Path, advance: Advance
) -> Json:
    """Send ``local`` as the run's artifact ``path``; the stored file (path, size, sha256)."""
    path = paths.check_path(path)
    digest = hashlib.sha256()
    with local.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        response = session.send_stream(
            "PUT",
            artifact_url(run_id, path),
            content=_blocks(handle, size, digest, advance),
            headers={"content-length": str(size), "content-type": "application/octet-stream"},
        )
    raise_for(response)
    stored: Json = response.json()
    if stored.get("sha256") != digest.hexdigest():
        raise ArtifactCorrupted(
            f"the server stored {path} with sha256 {stored.get('sha256')}, but "
            f"{digest.hexdigest()} was sent",
            path=path,
        )
    return stored


def local_files(directory: Path) -> list[tuple[str, Path]]:
    """The regular files below ``directory`` as (relative POSIX path, file), in path order."""
    if not directory.is_dir():
        raise InvalidInput(f"{str(directory)!r} is not a directory", field="local_path")
    found = [(p.relative_to(directory).as_posix(), p) for p in directory.rglob("*") if p.is_file()]
    return sorted(found)


# Called once the size of a download is known; the phase its bytes are counted in.
Started = Callable[[RemoteFile], AbstractContextManager[Advance]]


def download_file(
    session: HttpSession,
    run_id: str,
    path: str,
    target: Path,
    started: Started,
    expected: RemoteFile | None = None,
) -> RemoteFile:
    """Stream the artifact ``path`` into ``target`` (parents created), verified, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with _opened(session, artifact_url(run_id, path)) as response:
            announced = _announced(response, path, expected)
            digest, received = hashlib.sha256(), 0
            with (
                started(announced) as advance,
                partial.open("wb") as handle,
                _Sink(digest, handle) as sink,
            ):
                try:
                    for block in response.iter_raw():
                        sink.add(block)
                        received += len(block)
                        advance(len(block))
                except httpx.TransportError as exc:
                    raise TransferInterrupted(
                        f"download of {path} stopped after {received} of {announced.size} "
                        f"bytes: {exc}",
                        path=path,
                    ) from exc
        _verify(announced, received, digest.hexdigest())
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return announced


class _Sink:
    """Hashes and writes a download in a worker thread, a block of about BLOCK bytes at a time,
    while the calling thread reads the next one from the socket (all three release the GIL)."""

    def __init__(self, digest: Any, handle: Any) -> None:
        self._digest, self._handle = digest, handle
        self._pending: list[bytes] = []
        self._held = 0
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="modelyard-download")
        self._busy: Future[None] | None = None

    def __enter__(self) -> _Sink:
        return self

    def add(self, data: bytes) -> None:
        self._pending.append(data)
        self._held += len(data)
        if self._held >= BLOCK:
            self._hand_over()

    def _hand_over(self) -> None:
        block = b"".join(self._pending)
        self._pending, self._held = [], 0
        if self._busy is not None:
            self._busy.result()
        self._busy = self._worker.submit(self._consume, block)

    def _consume(self, block: bytes) -> None:
        self._digest.update(block)
        self._handle.write(block)

    def __exit__(self, kind: object, *rest: object) -> None:
        try:
            if kind is None and self._pending:
                self._hand_over()
            if self._busy is not None:
                self._busy.result()
        finally:
            self._worker.shutdown()


@contextmanager
def _opened(session: HttpSession, url: str) -> Iterator[httpx.Response]:
    """A streamed GET: error answers raised typed, connection failures as ServerUnreachable."""
    http = session.raw()
    try:
        response = http.send(http.build_request("GET", url), stream=True)
    except httpx.TransportError as exc:
        raise ServerUnreachable(f"cannot reach modelyard at {session.url}: {exc}") from exc
    try:
        raise_for(response)
        yield response
    finally:
        response.close()


def _announced(response: httpx.Response, path: str, expected: RemoteFile | None) -> RemoteFile:
    """What the body must be: the listing's entry, else the server's digest headers."""
    if expected is not None:
        return expected
    sha256 = response.headers.get("x-artifact-sha256")
    size = response.headers.get("x-artifact-size")
    if sha256 is None or size is None or not size.isdigit():
        raise ArtifactCorrupted(f"the server sent {path} without its sha256 and size", path=path)
    return RemoteFile(path=path, size=int(size), sha256=sha256)


def _verify(announced: RemoteFile, received: int, sha256: str) -> None:
    if received != announced.size or sha256 != announced.sha256:
        raise ArtifactCorrupted(
            f"{announced.path} arrived as {received} bytes with sha256 {sha256}, expected "
            f"{announced.size} bytes with sha256 {announced.sha256}; nothing was kept",
            path=announced.path,
        )


def remote_files(session: HttpSession, run_id: str, directory: str) -> list[RemoteFile]:
    """Every file below ``directory`` of the run (``""`` is the root), in path order."""
    listing = session.request(
        "GET",
        f"/runs/{quote(str(run_id), safe='')}/artifacts",
        params={"path": directory, "recursive": "true"},
    )
    return [
        RemoteFile(path=paths.check_path(e["path"]), size=int(e["size"]), sha256=e["sha256"])
        for e in listing["files"]
        if not e["is_dir"]
    ]


def relative_to(path: str, directory: str) -> str:
    """``path`` below ``directory``, checked to be a plain relative path (no escape)."""
    if not directory:
        return paths.check_path(path)
    prefix = f"{directory}/"
    if not path.startswith(prefix):
        raise InvalidInput(f"the server listed {path!r}, which is not below {directory!r}")
    return paths.check_path(path[len(prefix) :])


def download_tree(
    session: HttpSession,
    run_id: str,
    directory: str,
    destination: Path,
    files: list[RemoteFile],
    progress: Progress,
) -> list[Path]:
    """Download ``files`` (all below ``directory``) into ``destination``, keeping their layout."""
    written = []
    total = sum(f.size for f in files)
    with progress.phase(f"downloading {len(files)} files", total) as advance:
        for file in files:
            target = destination.joinpath(*PurePosixPath(relative_to(file.path, directory)).parts)
            download_file(session, run_id, file.path, target, lambda _f: nullcontext(advance), file)
            written.append(target)
    return written
