"""Translates PostgreSQL errors into modelyard's typed exceptions, at one boundary.

A violated constraint is recognised by its name (every invariant in schema.sql is a named
constraint), so the message can say what was wrong in the user's terms. Anything not listed
becomes a generic error; connection failures become :class:`DatabaseUnavailable`.

The messages never quote the database (they reach HTTP clients, and the database's text names
tables, hosts and functions); the driver error stays attached as ``__cause__``, for the server's
log and the CLI's one-line message (the CLI runs on the operator's side, where it helps).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors

from modelyard import errors

# constraint name -> (exception class, message). Messages are in the caller's vocabulary.
CONSTRAINT_ERRORS: dict[str, tuple[type[errors.ModelyardError], str]] = {
    "experiment_name_uq": (errors.AlreadyExists, "an experiment with this name already exists"),
    "experiment_name_ck": (errors.InvalidInput, "experiment name must be 1 to 256 characters"),
    "experiment_workspace_fk": (errors.NotFound, "workspace does not exist"),
    "experiment_tag_experiment_fk": (errors.NotFound, "experiment does not exist"),
    "run_experiment_fk": (errors.NotFound, "experiment does not exist"),
    "run_parent_fk": (errors.NotFound, "parent run does not exist"),
    "run_status_ck": (errors.InvalidInput, "unknown run status"),
    "run_end_time_ck": (errors.InvalidInput, "a run cannot end before it starts"),
    "run_name_ck": (errors.InvalidInput, "run name must be 1 to 256 characters"),
    "run_not_own_parent_ck": (errors.InvalidInput, "a run cannot be its own parent"),
    "run_param_run_fk": (errors.NotFound, "run does not exist"),
    "run_tag_run_fk": (errors.NotFound, "run does not exist"),
    "metric_series_run_fk": (errors.NotFound, "run does not exist"),
    "ingest_receipt_run_fk": (errors.NotFound, "run does not exist"),
    # Raised by ingest_metric_staging_v2 (not a table constraint): metrics go to active runs only.
    "metric_run_active": (errors.InvalidState, "run is deleted; restore it before logging to it"),
    "ingest_receipt_key_ck": (errors.InvalidInput, "idempotency key must be 1 to 128 characters"),
    "registered_model_name_uq": (
        errors.AlreadyExists,
        "a registered model with this name already exists",
    ),
    "registered_model_name_ck": (errors.InvalidInput, "model name must be 1 to 256 characters"),
    "registered_model_tag_model_fk": (errors.NotFound, "registered model does not exist"),
    "model_version_model_fk": (errors.NotFound, "registered model does not exist"),
    "model_version_run_fk": (errors.NotFound, "run does not exist"),
    "model_version_status_ck": (errors.InvalidInput, "unknown model version status"),
    "model_version_stage_ck": (
        errors.InvalidInput,
        "stage must be one of None, Staging, Production, Archived",
    ),
    "model_version_source_ck": (errors.InvalidInput, "source must be 1 to 4096 characters"),
    "model_version_tag_version_fk": (errors.NotFound, "model version does not exist"),
    "model_alias_version_fk": (errors.NotFound, "model version does not exist"),
    "dataset_name_ck": (errors.InvalidInput, "dataset name must be 1 to 500 characters"),
    "dataset_workspace_fk": (errors.NotFound, "workspace does not exist"),
    "dataset_version_digest_ck": (errors.InvalidInput, "digest must be 1 to 256 characters"),
    "dataset_version_source_type_ck": (
        errors.InvalidInput,
        "source_type must be at most 256 characters",
    ),
    "dataset_version_source_ck": (errors.InvalidInput, "source must be at most 65535 characters"),
    "dataset_version_row_count_ck": (errors.InvalidInput, "row_count must be 0 or more"),
    "run_input_run_fk": (errors.NotFound, "run does not exist"),
    "run_output_run_fk": (errors.NotFound, "run does not exist"),
    "run_input_dataset_version_fk": (errors.NotFound, "dataset version does not exist"),
    "run_output_dataset_version_fk": (errors.NotFound, "dataset version does not exist"),
    "run_input_context_ck": (errors.InvalidInput, "context must be at most 500 characters"),
    "logged_model_name_ck": (errors.InvalidInput, "logged model name must be 1 to 256 characters"),
    "logged_model_run_fk": (errors.NotFound, "run does not exist"),
    "logged_model_experiment_fk": (errors.NotFound, "experiment does not exist"),
    "logged_model_tag_model_fk": (errors.NotFound, "logged model does not exist"),
    "logged_model_param_model_fk": (errors.NotFound, "logged model does not exist"),
    "logged_model_metric_model_fk": (errors.NotFound, "logged model does not exist"),
    "logged_model_metric_run_fk": (errors.NotFound, "run does not exist"),
    "logged_model_metric_dataset_ck": (
        errors.InvalidInput,
        "a metric's dataset_digest needs its dataset_name",
    ),
    "run_model_output_model_fk": (errors.NotFound, "logged model does not exist"),
    "run_model_input_model_fk": (errors.NotFound, "logged model does not exist"),
    "model_version_logged_model_fk": (errors.NotFound, "logged model does not exist"),
    "webhook_name_ck": (errors.InvalidInput, "webhook name must be 1 to 256 characters"),
    "webhook_url_ck": (errors.InvalidInput, "webhook URL must be 1 to 2048 characters"),
    "webhook_events_ck": (errors.InvalidInput, "a webhook needs 1 to 32 events"),
    "webhook_status_ck": (errors.InvalidInput, "status must be ACTIVE or DISABLED"),
    "workspace_name_uq": (errors.AlreadyExists, "a workspace with this name already exists"),
    "workspace_name_ck": (
        errors.InvalidInput,
        "workspace name must be 1 to 63 lowercase letters, digits, _ or -, starting with a "
        "letter or digit",
    ),
    "app_user_name_uq": (errors.AlreadyExists, "a user with this name already exists"),
    "app_user_name_ck": (
        errors.InvalidInput,
        "user name must be 1 to 128 letters, digits, _ . @ or -, starting with a letter or digit",
    ),
    "model_alias_name_ck": (
        errors.InvalidInput,
        "alias must be 1 to 255 letters, digits, _ or -, and not 'latest' or a version like v1",
    ),
}


def translate(exc: psycopg.Error) -> errors.ModelyardError:
    """The modelyard exception for a driver error (raise it ``from exc``)."""
    if isinstance(exc, psycopg.errors.DiskFull):
        # An OperationalError too, but not a reason to retry soon: the statement was refused
        # and rolled back, the server is up.
        return errors.InsufficientStorage("the database's disk is full; nothing was stored")
    if isinstance(exc, psycopg.OperationalError) and not isinstance(
        exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable
    ):
        return errors.DatabaseUnavailable("database unavailable; retry later")
    constraint = getattr(exc.diag, "constraint_name", None) if exc.diag else None
    if constraint and constraint in CONSTRAINT_ERRORS:
        cls, message = CONSTRAINT_ERRORS[constraint]
        return cls(message, constraint=constraint)
    if isinstance(exc, psycopg.errors.UndefinedTable):
        return errors.SchemaOutdated(
            "the modelyard schema is missing or outdated; run `modelyard db upgrade`"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return errors.PermissionDenied("the database refused this operation to modelyard's role")
    if isinstance(exc, psycopg.errors.DataError):
        return errors.InvalidInput("invalid value: the database cannot store it as given")
    return errors.ModelyardError("unexpected database error")


@contextmanager
def driver_errors() -> Iterator[None]:
    """Lets driver errors out only as typed modelyard errors (usable as a decorator too)."""
    try:
        yield
    except psycopg.Error as exc:
        raise translate(exc) from exc


def cause_line(exc: BaseException) -> str | None:
    """The first line of the driver error behind ``exc``, if a driver error caused it."""
    cause = exc.__cause__
    return first_line(cause) if isinstance(cause, psycopg.Error) else None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its class name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
