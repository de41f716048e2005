"""Artifact file bodies over HTTP, shared by ``/api/v1`` and MLflow's artifact proxy.

Uploads go from ``request.stream()`` into the store chunk by chunk (a declared size over the
limit is refused before any byte is read); downloads leave as a ``StreamingResponse`` of
verified chunks, honouring one ``Range``. Both APIs locate the run and path their own way and
answer in their own shape; the bytes move the same way, here.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import StreamingResponse

from modelyard.artifacts.store import ArtifactFile, ArtifactStore
from modelyard.errors import (
    ArtifactCorrupted,
    MalformedRequest,
    PayloadTooLarge,
    RangeNotSatisfiable,
)

log = logging.getLogger(__name__)

# The Range headers we read (RFC 9110's byte ranges), for the check here and the OpenAPI
# document: one or more START-END, START- or -SUFFIX specs after "bytes=".
_SPEC = r"(?:[0-9]+-[0-9]*|-[0-9]+)"
RANGE_PATTERN = rf"^[ \t]*bytes=[ \t]*{_SPEC}(?:[ \t]*,[ \t]*{_SPEC})*[ \t]*(?!\n)$"
RANGE_SCHEMA: dict[str, object] = {"type": "string", "maxLength": 1024, "pattern": RANGE_PATTERN}
_RANGE_FORM = re.compile(RANGE_PATTERN)
_ONE_RANGE = re.compile(r"^[ \t]*bytes=[ \t]*([0-9]*)-([0-9]*)[ \t]*$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of a single-range ``Range`` header; None for none or several ranges.

    A header not of RANGE_PATTERN's form is a 416; so is a range that starts past the end or
    ends before it starts.
    """
    if header is None:
        return None
    if len(header) > 1024 or not _RANGE_FORM.search(header):
        raise RangeNotSatisfiable(f"unsupported Range header {header[:100]!r}", size=size)
    match = _ONE_RANGE.match(header)
    if match is None:
        return None  # several ranges: RFC 9110 lets a server answer with the whole file
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


async def receive(
    request: Request, store: ArtifactStore, run_id: uuid.UUID, path: str
) -> ArtifactFile:
    """Store the request's body as the run's file ``path``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > store.max_bytes:
        raise PayloadTooLarge(
            f"artifact larger than {store.max_bytes} bytes", limit=store.max_bytes
        )
    try:
        return await store.put(run_id, path, request.stream())
    except ClientDisconnect:
        # Nobody is listening any more; the upload was discarded, nothing became visible.
        raise MalformedRequest("the client went away before the upload ended") from None


async def send(
    request: Request, store: ArtifactStore, run_id: uuid.UUID, path: str
) -> StreamingResponse:
    """The run's file ``path`` (or the one range asked for), verified as it streams."""
    info = await store.stat(run_id, path)
    wanted = parse_range(request.headers.get("range"), info.size)
    start, end = wanted if wanted is not None else (0, info.size)
    found, chunks = await store.open(run_id, path, start=start, end=end)
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
