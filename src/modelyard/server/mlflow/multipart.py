"""MLflow's multipart upload through the artifact proxy: ``mpu/create``, ``complete``, ``abort``.

The mlflow client sends a large file (500 MB and up by default) as parts when ``server-info`` says
the server takes them (or ``MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD=true``): each part is PUT to a
URL handed out by ``create``, several at a time, then ``complete`` is asked. The URL of the three
calls names the directory and the body's ``path`` the client's local file, whose name is the
file's name here. Each part URL is this server's ``mpu/upload/<upload id>/<n>`` route: the part
streams into a spool file under the data directory (``mlflow-multipart/<upload id>``) and its
sha256 is the ETag. ``complete`` checks the client's part list against the spool, then streams
the parts in order into the artifact store as one file, so it is hashed, deduplicated and
published like any other upload, and no more than a chunk is ever in memory. ``abort`` (and
``complete``) remove the spool; uploads left unfinished for a day are swept at the next
``create``. The upload id is 128 random bits and the only key to an upload's spool.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from modelyard.auth.access import Access
from modelyard.errors import InvalidInput, MalformedRequest, NotFound, PayloadTooLarge
from modelyard.server.mlflow import _artifact_paths
from modelyard.server.mlflow._protocol import endpoint, parse, reply, require
from modelyard.server.mlflow.artifact_proxy import artifact_store, located

MAX_PARTS = 10_000  # S3's limit, which the client's part arithmetic assumes
STALE_SECONDS = 24 * 3600
CHUNK = 1024 * 1024
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
    if not (folder / "manifest.json").exists():
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
    folder = root / upload_id
    manifest = json.dumps({"path": raw, "num_parts": message.num_parts})

    def prepare() -> None:
        root.mkdir(parents=True, exist_ok=True)
        _sweep(root)
        folder.mkdir(mode=0o700)
        (folder / "manifest.json").write_text(manifest, encoding="utf-8")

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
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if not 1 <= number <= manifest["num_parts"]:
        raise InvalidInput(f"part_number must be from 1 to {manifest['num_parts']}")
    limit = artifact_store(request).max_bytes
    digest = hashlib.sha256()
    size = 0
    partial = folder / f"part-{number}.{uuid.uuid4().hex}.tmp"
    handle = await asyncio.to_thread(partial.open, "wb")
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"part larger than {limit} bytes", limit=limit)
            digest.update(chunk)
            await asyncio.to_thread(handle.write, chunk)
        await asyncio.to_thread(handle.close)
        etag = digest.hexdigest()
        # The ETag is kept with the part, so complete can check the client's list against it.
        await asyncio.to_thread(os.replace, partial, folder / f"part-{number}")
        await asyncio.to_thread((folder / f"part-{number}.etag").write_text, etag)
    except ClientDisconnect:
        raise MalformedRequest("the client went away before the part ended") from None
    finally:
        handle.close()
        partial.unlink(missing_ok=True)
    return Response(status_code=200, headers={"etag": f'"{etag}"'})


async def complete(request: Request) -> Response:
    message = await parse(request, CompleteUpload)
    raw = _target(request.path_params["path"], message.path)
    folder = _spool(request, require(message.upload_id, "upload_id"))
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if _artifact_paths.parse(manifest["path"]) != _artifact_paths.parse(raw):
        raise InvalidInput("the upload was created for another path", field="path")
    numbers = [part.part_number for part in message.parts]
    if numbers != list(range(1, manifest["num_parts"] + 1)):
        raise InvalidInput(
            f"parts must be 1 to {manifest['num_parts']}, each once, in order", field="parts"
        )
    for part in message.parts:
        etag_file = folder / f"part-{part.part_number}.etag"
        if not etag_file.exists():
            raise InvalidInput(f"part {part.part_number} was never uploaded", field="parts")
        if part.etag.strip('"') != etag_file.read_text():
            raise InvalidInput(f"part {part.part_number} has another ETag", field="parts")
    target = await located(request, raw)
    parts = [folder / f"part-{n}" for n in numbers]
    await artifact_store(request).put(target.run_id, target.path, _concatenated(parts))
    await asyncio.to_thread(shutil.rmtree, folder, True)
    return reply()


async def _concatenated(parts: list[Path]) -> AsyncIterator[bytes]:
    for part in parts:
        handle = await asyncio.to_thread(part.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()


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
