"""MLflow's multipart upload through the artifact proxy: ``mpu/create``, ``complete``, ``abort``.

The mlflow client sends a large file (500 MB and up by default) as parts when ``server-info`` says
the server takes them (or ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true``): each part is PUT to a
URL handed out by ``create``, several at a time, then ``complete`` is asked. The URL of the three
calls names the directory and the body's ``path`` the client's local file, whose name is the
file's name here. Each part URL is this server's ``mpu/upload/<upload id>/<n>`` route: the part
streams straight to its place in the upload's one file under the data directory
(``mlflow-multipart/<upload id>``, see ``_assembly``) and its sha256 is the ETag. ``complete``
checks the client's part list against the recorded ETags, then hands the file to the artifact
store in one pass (hashed as a whole for the store): a ``file://`` store on the same filesystem
renames it into place, any other store streams it in; either way it is deduplicated and
published like any other upload, and no more than a few blocks are ever in memory. Nothing
is visible before ``complete`` commits. ``abort`` (and ``complete``) remove the upload's
folder; uploads left unfinished for a day are swept at the next ``create``. The upload id is
128 random bits and the only key to an upload's folder.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from pathlib import Path

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.errors import InvalidInput, MalformedRequest, NotFound, PayloadTooLarge
from modelyard.server.mlflow import _artifact_paths, _assembly
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require
from modelyard.server.mlflow.artifact_proxy import artifact_store, located

MAX_PARTS = 10_000  # S3's limit, which the client's part arithmetic assumes
STALE_SECONDS = 24 * 3600
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")

WRITE = Access.WRITE


class CreateUpload(msgspec.Struct):
    path: str | None = None
    num_parts: int = 1


class Part(msgspec.Struct):
    part_number: int
    etag: str = ""
    url: str | None = None


class CompleteUpload(msgspec.Struct):
    path: str | None = None
    upload_id: str | None = None
    parts: list[Part] = []


class AbortUpload(msgspec.Struct):
    path: str | None = None
    upload_id: str | None = None


def _target(directory: str, local_file: str | None) -> str:
    """The file's proxy path: the URL names the directory, the body the client's local file."""
    name = re.split(r"[/\\]", require(local_file, "path"))[-1]
    if not name:
        raise InvalidInput("path must name the file being uploaded", field="path")
    return f"{directory.rstrip('/')}/{name}"


def spool_root(request: Request) -> Path:
    root: Path = request.app.state.settings.data_dir / "mlflow-multipart"
    return root


def _spool(request: Request, upload_id: str) -> Path:
    if not _UPLOAD_ID.match(upload_id):
        raise InvalidInput("upload_id is not one this server gave out", field="upload_id")
    folder = spool_root(request) / upload_id
    if not (folder / _assembly.MANIFEST).exists():
        raise NotFound(f"multipart upload {upload_id} does not exist", upload_id=upload_id)
    return folder


def _sweep(root: Path) -> None:
    """Remove the spools of uploads nobody completed or aborted within a day."""
    horizon = time.time() - STALE_SECONDS
    for folder in root.iterdir() if root.exists() else []:
        if folder.is_dir() and folder.stat().st_mtime < horizon:
            shutil.rmtree(folder, ignore_errors=True)


async def create(request: Request) -> Response:
    message = await parse(request, CreateUpload)
    raw = _target(request.path_params["path"], message.path)
    await located(request, raw)  # the owner must exist before parts are accepted
    if not 1 <= message.num_parts <= MAX_PARTS:
        raise InvalidInput(f"num_parts must be from 1 to {MAX_PARTS}", field="num_parts")
    root = spool_root(request)
    upload_id = uuid.uuid4().hex

    def prepare() -> None:
        root.mkdir(parents=True, exist_ok=True)
        _sweep(root)
        _assembly.create(root / upload_id, raw, message.num_parts)

    await asyncio.to_thread(prepare)
    base = request.url.replace(query="", fragment="")
    credentials = [
        {
            "url": str(base.replace(path=f"{_prefix(request)}/mpu/upload/{upload_id}/{number}")),
            "part_number": number,
            "headers": {},
        }
        for number in range(1, message.num_parts + 1)
    ]
    return reply({"upload_id": upload_id, "credentials": credentials})


def _prefix(request: Request) -> str:
    """The mount this request came through (``/api/2.0/mlflow-artifacts`` or its ajax twin)."""
    root_path: str = request.scope.get("root_path", "")
    return root_path


async def upload_part(request: Request) -> Response:
    folder = _spool(request, request.path_params["upload_id"])
    number = request.path_params["part_number"]
    manifest = await asyncio.to_thread(_assembly.manifest, folder)
    if not 1 <= number <= manifest.num_parts:
        raise InvalidInput(f"part_number must be from 1 to {manifest.num_parts}")
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        # The part's place in the file is computed from its size, before its bytes arrive.
        raise InvalidInput("a part must be sent with its Content-Length")
    size, limit = int(declared), artifact_store(request).max_bytes
    if size > limit:
        raise PayloadTooLarge(f"part larger than {limit} bytes", limit=limit)
    placement = await asyncio.to_thread(
        _assembly.place, folder, number, manifest.num_parts, size, limit
    )
    try:
        etag = await _assembly.write_part(folder, number, placement, size, request.stream())
    except ClientDisconnect:
        raise MalformedRequest("the client went away before the part ended") from None
    return Response(status_code=200, headers={"etag": f'"{etag}"'})


async def complete(request: Request) -> Response:
    message = await parse(request, CompleteUpload)
    raw = _target(request.path_params["path"], message.path)
    folder = _spool(request, require(message.upload_id, "upload_id"))
    manifest = await asyncio.to_thread(_assembly.manifest, folder)
    if _artifact_paths.parse(manifest.path) != _artifact_paths.parse(raw):
        raise InvalidInput("the upload was created for another path", field="path")
    numbers = [part.part_number for part in message.parts]
    if numbers != list(range(1, manifest.num_parts + 1)):
        raise InvalidInput(
            f"parts must be 1 to {manifest.num_parts}, each once, in order", field="parts"
        )
    target = await located(request, raw)
    completion = _assembly.Completion(folder)
    await asyncio.to_thread(completion.begin)
    try:
        sizes = await asyncio.to_thread(_recorded, folder, message.parts)
        total = await asyncio.to_thread(completion.finish_layout, sizes)
        await artifact_store(request).put(
            target.run_id, target.path, completion.blocks(total), adopt=completion.file
        )
    except BaseException:
        # Refused or failed: the parts stay, so the client may fix them and complete again.
        await asyncio.to_thread(completion.give_back)
        raise
    await asyncio.to_thread(completion.close)
    await asyncio.to_thread(shutil.rmtree, folder, True)
    return reply()


def _recorded(folder: Path, parts: list[Part]) -> list[int]:
    """Each part's size as recorded, its ETag checked against the client's list."""
    sizes = []
    for part in parts:
        recorded = _assembly.recorded_etag(folder, part.part_number)
        if recorded is None:
            raise InvalidInput(f"part {part.part_number} was never uploaded", field="parts")
        if part.etag.strip('"') != recorded[0]:
            raise InvalidInput(f"part {part.part_number} has another ETag", field="parts")
        sizes.append(recorded[1])
    return sizes


async def abort(request: Request) -> Response:
    message = await parse(request, AbortUpload)
    folder = _spool(request, require(message.upload_id, "upload_id"))
    await asyncio.to_thread(shutil.rmtree, folder, True)
    return reply()


routes = [
    endpoint("POST", "/mpu/create/{path:path}", create, WRITE),
    endpoint("POST", "/mpu/complete/{path:path}", complete, WRITE),
    endpoint("POST", "/mpu/abort/{path:path}", abort, WRITE),
    endpoint("PUT", "/mpu/upload/{upload_id}/{part_number:int}", upload_part, WRITE),
]
