"""JSON in and out with msgspec, and the one JSON error shape.

Every error leaves the server as ``{"error": {"code": ..., "message": ..., "details": {...}}}``
with the status of its exception class; ``tests/server/test_error_shape.py`` pins it.

A failure of the server itself (a 500) answers a generic message carrying the request id; what
went wrong (the database's text, the traceback) goes to the log under that id, never to the
client. An unavailable database answers 503 with ``Retry-After``; a method a path does not
declare answers 405 with ``Allow`` listing the ones it does.
"""

from __future__ import annotations

import decimal
import logging
from typing import Any, TypeVar

import msgspec
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import Scope

from modelyard import errors
from modelyard.db.errors import cause_line
from modelyard.server.request_id import request_id_of

log = logging.getLogger(__name__)
T = TypeVar("T")

_encoder = msgspec.json.Encoder()

# Generic HTTP failures raised by Starlette itself (unknown route, wrong method).
_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
# Seconds a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 1


class JSON(Response):
    """A response rendered by msgspec (several times faster than the json module)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return _encoder.encode(content)


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> JSON:
    return JSON(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


# Where read_body keeps the body in the request's scope.
_BODY_KEY = "modelyard.body"


async def read_body(request: Request) -> bytes:
    """The request body, refused (413, with the limit) when larger than the configured maximum.

    A declared Content-Length is checked before reading; a chunked body is read only up to the
    limit, so an endless upload costs at most ``limit`` bytes of memory. Read once per request
    and kept: an idempotent route digests the body before its handler decodes it.
    """
    kept = request.scope.get(_BODY_KEY)
    if isinstance(kept, bytes):
        return kept
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
    request.scope[_BODY_KEY] = body
    return body


def decode_body(body: bytes, type_: type[T]) -> T:
    """``body`` decoded and validated as ``type_``; bad JSON or wrong types are a 400."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.ValidationError as exc:
        if "got `float`" in str(exc):
            return _decode_integral_floats(body, type_)
        raise errors.MalformedRequest(f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise errors.MalformedRequest(f"malformed JSON: {exc}") from None


def _integral_float(literal: str) -> int | float:
    """A JSON number literal as an int when it has no fraction (``3.0``, ``1e3``), else a float.

    JSON Schema counts ``3.0`` as an integer, and so does a client that writes every number as
    a double; msgspec refuses a float where it expects an int. Numbers too large to be an
    int64 stay floats, and are refused as such.
    """
    value = float(literal)
    if value.is_integer() and abs(value) < 2**63:
        exact = decimal.Decimal(literal)
        if exact == exact.to_integral_value():
            return int(exact)
    return value


def _decode_integral_floats(body: bytes, type_: type[T]) -> T:
    """The slow path of :func:`decode_body` when some float was given for an int."""
    try:
        loose = msgspec.json.Decoder(float_hook=_integral_float).decode(body)
        # Encoded again and decoded as the type, so raw JSON fields stay exactly as sent.
        return msgspec.json.decode(msgspec.json.encode(loose), type=type_)
    except msgspec.ValidationError as exc:
        raise errors.MalformedRequest(f"invalid request body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise errors.MalformedRequest(f"malformed JSON: {exc}") from None


async def decode(request: Request, type_: type[T]) -> T:
    """The request body decoded and validated as ``type_``; a bad body is a 400, never a 500."""
    return decode_body(await read_body(request), type_)


def internal_error(request: Request) -> JSON:
    """The answer to a failure of the server itself: a generic message and the request id."""
    request_id = request_id_of(request)
    return error_response(
        500,
        "INTERNAL_ERROR",
        f"internal server error (request id {request_id})",
        {"request_id": request_id},
        # Set here too: an unhandled exception is answered outside the request id middleware.
        {"X-Request-ID": request_id},
    )


async def modelyard_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ModelyardError)
    if exc.http_status < 500:
        return error_response(exc.http_status, exc.code, exc.message, exc.details)
    log.error(
        "request failed",
        exc_info=exc,
        extra={
            "path": request.url.path,
            "code": exc.code,
            "request_id": request_id_of(request),
            "cause": cause_line(exc),
        },
    )
    if type(exc) is errors.ModelyardError:  # no class of its own: nothing the client can act on
        return internal_error(request)
    headers = None
    if isinstance(exc, errors.DatabaseUnavailable):
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    details = {**exc.details, "request_id": request_id_of(request)}
    return error_response(exc.http_status, exc.code, exc.message, details, headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "ERROR")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        allowed = allowed_methods(request.app.router.routes, request.scope["path"])
        headers["Allow"] = ", ".join(allowed)
    return error_response(exc.status_code, code, str(exc.detail), {}, headers or None)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    log.exception(
        "unhandled error", extra={"path": request.url.path, "request_id": request_id_of(request)}
    )
    return internal_error(request)


def allowed_methods(routes: list[BaseRoute], path: str) -> list[str]:
    """Every method some route declares for ``path`` (HEAD wherever GET is), sorted."""
    scope: Scope = {"type": "http", "path": path, "root_path": "", "method": ""}
    return sorted(_methods(routes, scope))


def _methods(routes: list[BaseRoute], scope: Scope) -> set[str]:
    found: set[str] = set()
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.NONE:
            continue
        if isinstance(route, Mount):
            found |= _methods(route.routes, {**scope, **child})
        elif isinstance(route, Route):
            found |= route.methods or set()
    return found


EXCEPTION_HANDLERS = {
    errors.ModelyardError: modelyard_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
