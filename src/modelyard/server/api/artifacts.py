"""``/runs/{run_id}/artifacts``: streamed upload, download (with ``Range``), listing, delete.

File bodies are raw bytes in both directions (StreamRoute), never JSON and never held whole:
uploads go from ``request.stream()`` into the store chunk by chunk, downloads leave as a
``StreamingResponse`` of verified chunks. A directory is downloaded by the client: it lists the
files below it (``recursive=true``) and fetches each one, checking every file's sha256.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from modelyard.artifacts import paths
from modelyard.artifacts.store import ArtifactEntry, ArtifactFile, ArtifactStore
from modelyard.auth.access import Access, access
from modelyard.errors import (
    ArtifactCorrupted,
    MalformedRequest,
    PayloadTooLarge,
    RangeNotSatisfiable,
)
from modelyard.server.api._request import no_content, path_str, run_id
from modelyard.server.api._routing import Header, Query, StreamRoute
from modelyard.server.responses import JSON

log = logging.getLogger(__name__)

DIRECTORY = Query(
    "path",
    "Directory to list, relative to the run's artifact root (default: root).",
    rule=paths.ARTIFACT_DIRECTORY_SCHEMA,
)
RECURSIVE = Query(
    "recursive",
    "true: every file below the directory (for a directory download), not only its children.",
    default="false",
    choices=("true", "false"),
)
RANGE = Header("Range", "One byte range, bytes=START-END, bytes=START- or bytes=-SUFFIX.")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ArtifactListing:
    """The children (or, recursive, every file) of a directory."""

    path: str
    files: list[ArtifactEntry]


def artifacts(request: Request) -> ArtifactStore:
    store: ArtifactStore = request.app.state.artifacts
    return store


def _target(request: Request) -> tuple[uuid.UUID, str]:
    return uuid.UUID(run_id(request)), paths.check_path(path_str(request, "path"))


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single-range ``Range`` header; None for none or several ranges."""
    if header is None or "," in header:
        return None  # several ranges: RFC 9110 lets a server answer with the whole file
    match = _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(f"unsupported Range header {header!r}", size=size)
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = size if last == "" else min(size, int(last) + 1)
    if start >= size or start >= end:
        raise RangeNotSatisfiable(
            f"range {header!r} is outside the file of {size} bytes", size=size
        )
    return start, end


@access(Access.WRITE)
async def upload_artifact(request: Request) -> Response:
    target_run, path = _target(request)
    store = artifacts(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > store.max_bytes:
        raise PayloadTooLarge(
            f"artifact larger than {store.max_bytes} bytes", limit=store.max_bytes
        )
    try:
        stored = await store.put(target_run, path, request.stream())
    except ClientDisconnect:
        # Nobody is listening any more; the upload was discarded, nothing became visible.
        raise MalformedRequest("the client went away before the upload ended") from None
    return JSON(stored, status_code=201)


@access(Access.READ)
async def download_artifact(request: Request) -> Response:
    target_run, path = _target(request)
    store = artifacts(request)
    info = await store.stat(target_run, path)
    wanted = parse_range(request.headers.get("range"), info.size)
    start, end = wanted if wanted is not None else (0, info.size)
    found, chunks = await store.open(target_run, path, start=start, end=end)
    headers = {
        "accept-ranges": "bytes",
        "content-length": str(end - start),
        "etag": f'"{found.sha256}"',
        "x-artifact-sha256": found.sha256,
        "x-artifact-size": str(found.size),
    }
    if wanted is not None:
        headers["content-range"] = f"bytes {start}-{end - 1}/{found.size}"
    # The first chunk is read before the answer starts, so a file of up to one chunk is fully
    # verified (and a missing blob reported) with a proper JSON error instead of a cut body.
    first = await anext(chunks, None)
    return StreamingResponse(
        _prepend(first, chunks),
        status_code=206 if wanted is not None else 200,
        headers=headers,
        media_type="application/octet-stream",
    )


async def _prepend(first: bytes | None, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first is not None:
        yield first
    try:
        async for chunk in rest:
            yield chunk
    except ArtifactCorrupted as exc:
        # The status line is gone already: say it in the log, then break the connection so
        # the client sees a short body (its Content-Length is not met), never wrong data.
        log.error("artifact corrupted", extra={"sha256": exc.details.get("sha256")})
        raise


@access(Access.WRITE)
async def delete_artifact(request: Request) -> Response:
    target_run = uuid.UUID(run_id(request))
    await artifacts(request).delete(target_run, paths.check_directory(path_str(request, "path")))
    return no_content()


@access(Access.READ)
async def list_artifacts(request: Request) -> Response:
    target_run = uuid.UUID(run_id(request))
    directory = paths.check_directory(DIRECTORY.parse(request))
    store = artifacts(request)
    if RECURSIVE.parse(request) == "true":
        files = [_file_entry(f) for f in await store.walk(target_run, directory)]
    else:
        files = await store.list_dir(target_run, directory)
    return JSON(ArtifactListing(path=directory, files=files))


def _file_entry(file: ArtifactFile) -> ArtifactEntry:
    return ArtifactEntry(
        name=file.path.rsplit("/", 1)[-1],
        path=file.path,
        is_dir=False,
        size=file.size,
        sha256=file.sha256,
    )


class _AnyPath(Convertor[str]):
    """Starlette's ``path`` without its one gap: its ``.*`` does not match a newline, so a path
    holding one would be "no such route" (404) instead of the 400 it deserves. Registered as
    ``path`` too, because the ``/api/v1`` Mount matches its remainder with that convertor."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("path", _AnyPath())

_FILE = "/runs/{run_id}/artifacts/{path:path}"

routes = [
    StreamRoute(
        "PUT",
        _FILE,
        upload_artifact,
        streams_request=True,
        summary="Upload a run's artifact file (raw body, streamed; replaces an existing file)",
        status=201,
        response=ArtifactFile,
        extra_statuses={"413": "The file is larger than the server's --max-artifact-mb"},
    ),
    StreamRoute(
        "GET",
        _FILE,
        download_artifact,
        streams_response=True,
        summary="Download a run's artifact file (streamed, sha256-verified; ETag and "
        "X-Artifact-Sha256 carry the digest)",
        headers=(RANGE,),
        extra_statuses={
            "206": "The requested byte range (Content-Range)",
            "416": "The Range is outside the file",
        },
    ),
    StreamRoute(
        "DELETE",
        _FILE,
        delete_artifact,
        summary="Delete a run's artifact file, or a directory with everything below it",
        status=204,
    ),
    StreamRoute(
        "GET",
        "/runs/{run_id}/artifacts",
        list_artifacts,
        summary="List a directory of a run's artifacts (name, path, size, sha256, is_dir)",
        query=(DIRECTORY, RECURSIVE),
        response=ArtifactListing,
    ),
]
