"""JSON in and out with msgspec, and the one JSON error shape.

Every error leaves the server as ``{"error": {"code": ..., "message": ..., "details": {...}}}``
with the status of its exception class; ``tests/server/test_error_shape.py`` pins it.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelyard import errors

log = logging.getLogger(__name__)
T = TypeVar("T")

_encoder = msgspec.json.Encoder()

# Generic HTTP failures raised by Starlette itself (unknown route, wrong method).
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class JSON(Response):
    """A response rendered by msgspec (several times faster than the json module)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def error_response(status: int, code: str, message: str, details: dict[str, Any]) -> JSON:
    return JSON(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


async def read_body(request: Request) -> bytes:
    """The request body, refused (413, with the limit) when larger than the configured maximum.

    A declared Content-Length is checked before reading; a chunked body is read only up to the
    limit, so an endless upload costs at most ``limit`` bytes of memory.
    """
    limit: int = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise errors.PayloadTooLarge(f"request body larger than {limit} bytes", limit=limit)
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(f"request body larger than {limit} bytes", limit=limit)
        parts.append(chunk)
    body = b"".join(parts)
    if not body:
        raise errors.MalformedRequest("request body is empty; expected a JSON object")
    return body


def decode_body(body: bytes, type_: type[T]) -> T:
    """``body`` decoded and validated as ``type_``; bad JSON or wrong types are a 400."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        raise errors.MalformedRequest(f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise errors.MalformedRequest(f"malformed JSON: {exc}") from None


async def decode(request: Request, type_: type[T]) -> T:
    """The request body decoded and validated as ``type_``; a bad body is a 400, never a 500."""
    return decode_body(await read_body(request), type_)


async def modelyard_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ModelyardError)
    if exc.http_status >= 500:
        log.error("request failed", extra={"path": request.url.path, "code": exc.code})
    return error_response(exc.http_status, exc.code, exc.message, exc.details)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "ERROR")
    return error_response(exc.status_code, code, str(exc.detail), {})


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(500, "INTERNAL_ERROR", "internal server error", {})


EXCEPTION_HANDLERS = {
    errors.ModelyardError: modelyard_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
