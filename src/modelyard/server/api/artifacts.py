"""``/runs/{run_id}/artifacts``: streamed upload, download (with ``Range``), listing, delete.

File bodies are raw bytes in both directions (StreamRoute), never JSON and never held whole:
uploads go from ``request.stream()`` into the store chunk by chunk, downloads leave as a
``StreamingResponse`` of verified chunks. A directory is downloaded by the client: it lists the
files below it (``recursive=true``) and fetches each one, checking every file's sha256.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response

from modelyard.artifacts import paths
from modelyard.artifacts.store import ArtifactEntry, ArtifactFile, ArtifactStore
from modelyard.auth.access import Access, access
from modelyard.server import artifact_bodies
from modelyard.server.api._request import no_content, path_str, run_id
from modelyard.server.api._routing import Header, Query, StreamRoute
from modelyard.server.artifact_bodies import RANGE_SCHEMA
from modelyard.server.responses import JSON

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
RANGE = Header(
    "Range",
    "One byte range, bytes=START-END, bytes=START- or bytes=-SUFFIX (several ranges get the"
    " whole file); another form, or a range outside the file, is a 416.",
    RANGE_SCHEMA,
)


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


@access(Access.WRITE)
async def upload_artifact(request: Request) -> Response:
    target_run, path = _target(request)
    stored = await artifact_bodies.receive(request, artifacts(request), target_run, path)
    return JSON(stored, status_code=201)


@access(Access.READ)
async def download_artifact(request: Request) -> Response:
    target_run, path = _target(request)
    return await artifact_bodies.send(request, artifacts(request), target_run, path)


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
