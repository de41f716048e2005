"""MLflow's error shape: ``{"error_code": ..., "message": ...}`` with MLflow's codes and statuses.

Handlers raise the same :mod:`modelyard.errors` exceptions as everywhere else; only the rendering
differs. Each exception class maps to the MLflow error code a client expects for that failure, and
the HTTP status is the one MLflow gives that code (``mlflow/exceptions.py`` pairs them), so the
client's ``MlflowException.error_code`` is what it would be against an MLflow server. The mount of
the MLflow API installs :data:`EXCEPTION_HANDLERS` for its own routes; our API keeps its shape.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from modelyard import errors
from modelyard.server.responses import JSON

log = logging.getLogger(__name__)

INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"

# MLflow's HTTP status of each error code it uses.
HTTP_STATUS = {
    INTERNAL_ERROR: 500,
    "DATA_LOSS": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
    "RESOURCE_EXHAUSTED": 429,
    "ENDPOINT_NOT_FOUND": 404,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "BAD_REQUEST": 400,
    "MALFORMED_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    INVALID_PARAMETER_VALUE: 400,
}

# The most specific class wins (checked in MRO order). Where MLflow answers a failure with a code
# we also have (not found, already exists), the code is the same; where we are stricter than
# MLflow (a param changed, a write to a deleted run), MLflow answers INVALID_PARAMETER_VALUE.
_CODES: dict[type[errors.ModelyardError], str] = {
    errors.MalformedRequest: "MALFORMED_REQUEST",
    errors.InvalidInput: INVALID_PARAMETER_VALUE,
    errors.NotFound: "RESOURCE_DOES_NOT_EXIST",
    errors.AlreadyExists: "RESOURCE_ALREADY_EXISTS",
    errors.Conflict: INVALID_PARAMETER_VALUE,
    errors.InvalidState: INVALID_PARAMETER_VALUE,
    errors.Unauthenticated: "UNAUTHENTICATED",
    errors.PermissionDenied: "PERMISSION_DENIED",
    errors.ArtifactCorrupted: "DATA_LOSS",
    errors.ArtifactStoreUnavailable: "TEMPORARILY_UNAVAILABLE",
    errors.InsufficientStorage: "RESOURCE_EXHAUSTED",
    errors.DatabaseUnavailable: "TEMPORARILY_UNAVAILABLE",
    errors.SchemaOutdated: "TEMPORARILY_UNAVAILABLE",
    errors.EmbeddedPostgresError: "TEMPORARILY_UNAVAILABLE",
}

# Statuses of our own that say more than MLflow's and that the mlflow client handles as errors
# all the same (it only looks at the body's error_code).
_KEPT_STATUSES = frozenset({413, 416, 507})


def mlflow_code(exc: errors.ModelyardError) -> str:
    """The MLflow error code of ``exc``."""
    for cls in type(exc).__mro__:
        code = _CODES.get(cls)
        if code is not None:
            return code
    return INTERNAL_ERROR


def error_response(code: str, message: str, status: int | None = None) -> JSON:
    """MLflow's error body with the status of ``code`` (or ``status`` when given)."""
    return JSON(
        {"error_code": code, "message": message},
        status_code=status if status is not None else HTTP_STATUS.get(code, 500),
    )


def endpoint_not_found(request: Request) -> JSON:
    return error_response(
        ENDPOINT_NOT_FOUND,
        f"{request.method} {request.url.path} is not an endpoint of this server's MLflow API",
    )


async def _modelyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ModelyardError)
    code = mlflow_code(exc)
    status = exc.http_status if exc.http_status in _KEPT_STATUSES else None
    if code in (INTERNAL_ERROR, "DATA_LOSS") or exc.http_status >= 500:
        log.error("mlflow request failed", extra={"path": request.url.path, "code": exc.code})
    return error_response(code, exc.message, status)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Starlette raises 404 for an unknown path and 405 for a known path with another method; to
    # MLflow both are an endpoint that does not exist.
    if exc.status_code in (404, 405):
        return endpoint_not_found(request)
    return error_response("BAD_REQUEST", str(exc.detail), exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    # The traceback goes to the log, never to the client.
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(INTERNAL_ERROR, "internal server error")


EXCEPTION_HANDLERS = {
    errors.ModelyardError: _modelyard_error,
    HTTPException: _http_error,
    Exception: _unexpected_error,
}
