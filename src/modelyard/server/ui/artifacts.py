"""The artifact browser of a run: the tree with sizes, downloads, and previews of the first bytes.

A preview reads at most ``PREVIEW_BYTES`` (plus the store's one chunk of look-ahead) and closes
the stream, so a large file is never read whole for it; such a prefix cannot be checked against
the file's sha256, which downloads always are. Images are shown through the ``raw`` route, which
serves only raster image types inline (never HTML or SVG, which could carry script).
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from modelyard.artifacts import paths
from modelyard.artifacts.store import ArtifactStore
from modelyard.auth.access import Access, access
from modelyard.errors import InvalidInput
from modelyard.server.api._request import store
from modelyard.server.ui._render import page, render, secure_headers
from modelyard.server.ui._state import View
from modelyard.store import validation as v

PREVIEW_BYTES = 64 * 1024
CSV_ROWS = 20
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
TEXT_SUFFIXES = (".txt", ".log", ".md", ".yaml", ".yml", ".py", ".cfg", ".ini", ".toml", ".sh")


def _artifacts(request: Request) -> ArtifactStore:
    found: ArtifactStore = request.app.state.artifacts
    return found


def _run_uuid(request: Request) -> uuid.UUID:
    return uuid.UUID(v.check_uuid(request.path_params["run_id"]).hex)


def _path(view: View) -> str:
    raw = view.get("path")
    if not raw:
        raise InvalidInput("path is needed", field="path")
    return paths.check_path(raw)


def kind_of(path: str) -> str:
    lower = path.lower()
    suffix = lower[lower.rfind(".") :] if "." in lower.rsplit("/", 1)[-1] else ""
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix == ".json":
        return "json"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in TEXT_SUFFIXES or not suffix:
        return "text"
    return "binary"


async def head(stream: AsyncIterator[bytes], limit: int) -> bytes:
    """The first ``limit`` bytes of ``stream``; the rest is never read."""
    taken = bytearray()
    try:
        async for data in stream:
            taken += data
            if len(taken) >= limit:
                break
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
    return bytes(taken[:limit])


def preview(kind: str, data: bytes, size: int) -> dict[str, object]:
    """What the template shows for a file whose first bytes are ``data``."""
    partial = size > len(data)
    text = data.decode("utf-8", errors="replace")
    if kind == "json" and not partial:
        try:
            return {"kind": "json", "text": json.dumps(json.loads(text), indent=2)[:PREVIEW_BYTES]}
        except ValueError:
            return {"kind": "text", "text": text, "partial": partial, "note": "not valid JSON"}
    if kind == "csv":
        lines = text.splitlines()
        if partial and lines:
            lines = lines[:-1]  # the last line may be cut in the middle
        dialect = "excel-tab" if "\t" in (lines[0] if lines else "") else "excel"
        rows = list(csv.reader(io.StringIO("\n".join(lines[: CSV_ROWS + 1])), dialect=dialect))
        return {"kind": "csv", "header": rows[:1], "rows": rows[1:], "partial": True}
    if kind in ("text", "json"):
        return {"kind": "text", "text": text, "partial": partial}
    return {"kind": "binary"}


@access(Access.READ)
@page
async def browse(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    run_id = _run_uuid(request)
    run = await store(request).runs.get(run_id.hex)
    directory = paths.check_directory(view.get("path") or None)
    entries = await _artifacts(request).list_dir(run_id, directory)
    parts = directory.split("/") if directory else []
    crumbs = [("/".join(parts[: i + 1]), name) for i, name in enumerate(parts)]
    return render(
        request,
        "artifacts.html",
        title=f"{run.name} · artifacts",
        run=run,
        directory=directory,
        crumbs=crumbs,
        entries=entries,
    )


@access(Access.READ)
@page
async def view_file(request: Request) -> Response:
    view = View(request.url.path, request.query_params)
    run_id = _run_uuid(request)
    path = _path(view)
    run = await store(request).runs.get(run_id.hex)
    info, stream = await _artifacts(request).open(run_id, path)
    kind = kind_of(path)
    shown: dict[str, object]
    if kind == "image":
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()
        shown = {"kind": "image" if info.size <= MAX_IMAGE_BYTES else "too-large"}
    else:
        shown = preview(kind, await head(stream, PREVIEW_BYTES), info.size)
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return render(
        request,
        "artifact.html",
        title=f"{path} · artifact",
        run=run,
        file=info,
        parent=parent,
        preview=shown,
        limit=PREVIEW_BYTES,
    )


async def _send(stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for data in stream:
        yield data


@access(Access.READ)
@page
async def download(request: Request) -> Response:
    """The file's bytes as an attachment, streamed and checked against its sha256."""
    view = View(request.url.path, request.query_params)
    path = _path(view)
    info, stream = await _artifacts(request).open(_run_uuid(request), path)
    name = path.rsplit("/", 1)[-1].replace('"', "")
    response = StreamingResponse(
        _send(stream),
        media_type="application/octet-stream",
        headers={
            "content-length": str(info.size),
            "content-disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''"
            + _rfc5987(name),
        },
    )
    secure_headers(response)
    return response


@access(Access.READ)
@page
async def raw_image(request: Request) -> Response:
    """A raster image inline, for previews (other types are refused)."""
    view = View(request.url.path, request.query_params)
    path = _path(view)
    if kind_of(path) != "image":
        raise InvalidInput("only png, jpeg, gif and webp images are shown inline", field="path")
    info, stream = await _artifacts(request).open(_run_uuid(request), path)
    if info.size > MAX_IMAGE_BYTES:
        raise InvalidInput("image too large to preview; download it", field="path")
    suffix = path[path.rfind(".") :].lower()
    response = StreamingResponse(_send(stream), media_type=IMAGE_TYPES[suffix])
    secure_headers(response)
    response.headers["content-security-policy"] = "default-src 'none'; sandbox"
    return response


def _rfc5987(name: str) -> str:
    return quote(name, safe="")


_ONE = "/runs/{run_id}/artifacts"

routes = [
    Route(_ONE, browse),
    Route(_ONE + "/view", view_file),
    Route(_ONE + "/download", download),
    Route(_ONE + "/raw", raw_image),
]
