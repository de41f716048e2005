"""The one exception hierarchy of modelyard, shared by store, server, client and CLI.

Every error carries a stable machine-readable ``code`` and the HTTP status it maps to. The server
turns any :class:`ModelyardError` into the one JSON error shape (:meth:`ModelyardError.to_dict`);
the client turns that shape back into the same class with :func:`error_from_dict`, so code written
against the store and code written against the REST API catch the same exceptions.

The codes reuse MLflow's error-code vocabulary where one fits, so the MLflow-compatible API can
pass them through unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ModelyardError(Exception):
    """Base class of every error modelyard raises on purpose."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The body of the JSON error shape: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(ModelyardError):
    """The caller sent something malformed or out of range (a name, a value, a batch size)."""

    code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class MalformedRequest(InvalidInput):
    """The request body could not be decoded (bad JSON, wrong types)."""

    code = "MALFORMED_REQUEST"


class UnsafeWebhookUrl(InvalidInput):
    """A webhook URL is refused: not https, or its host is (or resolves to) an internal address.

    A 422, not a 400: the URL has the documented form, and whether it may be called depends on
    the server's settings and on DNS, which the request cannot know.
    """

    code = "UNSAFE_WEBHOOK_URL"
    http_status = 422


class PayloadTooLarge(InvalidInput):
    """The request body is larger than the server accepts (``--max-body-mb``)."""

    code = "PAYLOAD_TOO_LARGE"
    http_status = 413


class InvalidArtifactPath(InvalidInput):
    """An artifact path that is absolute, escapes its root, or hides a traversal in an encoding."""

    code = "INVALID_ARTIFACT_PATH"


class RangeNotSatisfiable(InvalidInput):
    """An HTTP ``Range`` outside the file (``details.size`` is the file's size)."""

    code = "RANGE_NOT_SATISFIABLE"
    http_status = 416


class FilterSyntaxError(InvalidInput):
    """A search filter or order-by clause did not parse; ``details`` carries the position."""

    code = "INVALID_FILTER"

    def __init__(self, message: str, *, position: int, text: str) -> None:
        super().__init__(message, position=position, text=text)
        self.position = position


class NotFound(ModelyardError):
    """A referenced object (experiment, run, model, version, alias) does not exist."""

    code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class AlreadyExists(ModelyardError):
    """A unique name is taken (experiment name, registered model name)."""

    code = "RESOURCE_ALREADY_EXISTS"
    http_status = 409


class Conflict(ModelyardError):
    """The write contradicts what is stored, e.g. a param logged again with another value."""

    code = "CONFLICT"
    http_status = 409


class IdempotencyKeyReused(Conflict):
    """An idempotency key already used for a different request body."""

    code = "IDEMPOTENCY_KEY_REUSED"


class ParamConflict(Conflict):
    """Params are immutable: the same key was logged before with a different value."""

    code = "PARAM_CONFLICT"


class InvalidState(ModelyardError):
    """The object exists but is in a state that forbids the operation (e.g. a deleted run)."""

    code = "INVALID_STATE"
    http_status = 409


class Unauthenticated(ModelyardError):
    """No or bad credentials."""

    code = "UNAUTHENTICATED"
    http_status = 401


class PermissionDenied(ModelyardError):
    """The credentials are valid but do not allow the operation."""

    code = "PERMISSION_DENIED"
    http_status = 403


class ArtifactCorrupted(ModelyardError):
    """Stored artifact bytes do not match their sha256 (or size): never served as good data."""

    code = "ARTIFACT_CORRUPTED"
    http_status = 500


class ArtifactStoreUnavailable(ModelyardError):
    """The configured artifact store cannot be reached or does not hold what the index says."""

    code = "ARTIFACT_STORE_UNAVAILABLE"
    http_status = 503


class InsufficientStorage(ModelyardError):
    """The artifact store's disk or the database's is full: nothing of the write was kept, and
    the same request succeeds once space is freed (retrying sooner does not help)."""

    code = "INSUFFICIENT_STORAGE"
    http_status = 507


class DatabaseUnavailable(ModelyardError):
    """PostgreSQL cannot be reached or refused the connection."""

    code = "DATABASE_UNAVAILABLE"
    http_status = 503


class DeadlineExceeded(ModelyardError):
    """The request did not complete within the server's ``--request-timeout`` (e.g. the
    database stopped answering); nothing is half-written, and the request may be retried."""

    code = "DEADLINE_EXCEEDED"
    http_status = 504


class SchemaOutdated(ModelyardError):
    """The database schema is older (or newer) than this modelyard; run ``modelyard db upgrade``."""

    code = "SCHEMA_OUTDATED"
    http_status = 503


class MigrationError(ModelyardError):
    """The schema cannot be brought up to date (a migration failed, or the schema is foreign)."""

    code = "MIGRATION_ERROR"
    http_status = 500


class EmbeddedPostgresError(ModelyardError):
    """The embedded PostgreSQL could not be initialised, started or stopped."""

    code = "EMBEDDED_POSTGRES_ERROR"
    http_status = 503


class MetricsNotStored(ModelyardError):
    """A run ended while some of its metric points could not be stored (the run is FAILED)."""

    code = "METRICS_NOT_STORED"
    http_status = 500


class BackupError(ModelyardError):
    """A backup archive could not be written, verified or restored."""

    code = "BACKUP_ERROR"
    http_status = 500


class BackupCorrupted(BackupError):
    """A backup archive is damaged: a missing or extra member, a bad checksum, a broken dump."""

    code = "BACKUP_CORRUPTED"


class RestoreRefused(BackupError):
    """A restore would overwrite data or cannot apply here (non-empty target, newer schema)."""

    code = "RESTORE_REFUSED"
    http_status = 409


class UnsafeDatabaseRole(ModelyardError):
    """The server would connect as a role that row-level security does not bind (a superuser,
    BYPASSRLS, or the owner of the schema's objects) with authentication on."""

    code = "UNSAFE_DATABASE_ROLE"
    http_status = 500


class BootstrapError(ModelyardError):
    """``modelyard db bootstrap`` cannot make the server match the spec."""

    code = "BOOTSTRAP_ERROR"
    http_status = 500


def _all_subclasses(cls: type[ModelyardError]) -> list[type[ModelyardError]]:
    found: list[type[ModelyardError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_class_for_code(code: str) -> type[ModelyardError]:
    """The exception class registered for ``code`` (the base class when unknown)."""
    for cls in _all_subclasses(ModelyardError):
        if cls.code == code:
            return cls
    return ModelyardError


def error_from_dict(body: dict[str, Any], http_status: int | None = None) -> ModelyardError:
    """Rebuild the typed exception from the JSON error shape produced by :meth:`to_dict`."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ModelyardError(f"unexpected error response (HTTP {http_status}): {body!r}")
    cls = error_class_for_code(str(err.get("code", "")))
    message = str(err.get("message", ""))
    details = err.get("details") or {}
    exc = cls.__new__(cls)
    ModelyardError.__init__(exc, message, **details)
    if isinstance(exc, FilterSyntaxError):
        exc.position = int(details.get("position", 0))
    return exc
