"""The limits on what modelyard stores (names, keys, values, aliases, batch sizes) and their checks.

One module that both sides import: the store and the server validate with these checks before any
SQL runs, so bad input never leaves a half-written record; the client checks metric keys with
the same ones before buffering. It imports nothing but :mod:`modelyard.errors`, so training code
that does ``import modelyard`` never loads psycopg, the pool or the store.

The limits follow MLflow's where MLflow has one, so anything the mlflow client accepts we accept
too. Every check raises :class:`modelyard.errors.InvalidInput` naming the field.
"""

from __future__ import annotations

import re
import uuid

from modelyard.errors import InvalidInput

MAX_NAME_LENGTH = 256
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_DESCRIPTION_LENGTH = 65536
MAX_BATCH_METRICS = 100_000
MAX_BATCH_PARAMS = 1000
MAX_BATCH_TAGS = 1000
# Metric steps and timestamps are stored as bigint.
MAX_INT64 = 2**63 - 1
MIN_INT64 = -(2**63)
MAX_ALIAS_LENGTH = 255
# MLflow's name for a model's metadata file, reserved in a logged model's directory. It holds
# JSON, which YAML readers (MLflow's) accept.
METADATA_FILE = "MLmodel"
MAX_VERSION = 2**31 - 1  # model_version.version is an integer column

# Keys: letters, digits, _ - . space : and /, as MLflow allows; no empty path segment tricks.
_KEY = re.compile(r"^[\w\-. :/]+$")
_ALIAS = re.compile(r"^[A-Za-z0-9_-]+$")
# Model URIs read models:/name/3 and models:/name@v3 as versions; an alias cannot look like one.
_VERSION_LIKE = re.compile(r"^[vV][0-9]+$")


def check_key(key: object, field: str = "key") -> str:
    """A param, tag or metric key."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"{field} is longer than {MAX_KEY_LENGTH} characters", field=field)
    if not _KEY.match(key):
        raise InvalidInput(
            f"{field} {key!r} may only hold letters, digits, '_', '-', '.', ' ', ':' and '/'",
            field=field,
        )
    if key.startswith("/") or ".." in key.split("/"):
        raise InvalidInput(f"{field} {key!r} must be a relative path without '..'", field=field)
    return key


def check_name(name: object, field: str = "name") -> str:
    """An experiment, run or registered model name: any printable text up to 256 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{field} is longer than {MAX_NAME_LENGTH} characters", field=field)
    if any(not ch.isprintable() for ch in name):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return name


def check_text(value: object, field: str, max_length: int) -> str:
    """A string value (param value, tag value, description) up to ``max_length`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    if "\x00" in value:
        raise InvalidInput(f"{field} must not contain NUL characters", field=field)
    return value


def check_optional_text(value: object, field: str, max_length: int) -> str | None:
    return None if value is None else check_text(value, field, max_length)


def check_int64(value: object, field: str) -> int:
    """A step or timestamp: an integer that fits PostgreSQL's bigint."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{field} must be an integer", field=field)
    if not MIN_INT64 <= value <= MAX_INT64:
        raise InvalidInput(f"{field} is out of the 64-bit integer range", field=field)
    return value


def check_metric_value(value: object, field: str = "value") -> float:
    """A metric value: any float, NaN and +/-inf included (they are legitimate training output)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"{field} must be a number", field=field)
    return float(value)


def check_uuid(value: object, field: str = "run_id") -> uuid.UUID:
    """A run id as a UUID; accepts the 32-hex form MLflow uses and the dashed form."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a valid run id", field=field) from None


def check_batch_size(count: int, limit: int, what: str) -> None:
    if count > limit:
        raise InvalidInput(
            f"too many {what} in one request: {count} > {limit}", field=what, limit=limit
        )


def check_version(version: object) -> int:
    """A version number: a positive integer, or its decimal string as MLflow's REST API sends it."""
    if isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"version must be an integer, got {version!r}", field="version")
    if not 1 <= version <= MAX_VERSION:
        raise InvalidInput(f"version must be from 1 to {MAX_VERSION}", field="version")
    return version


def check_alias(alias: object) -> str:
    """An alias name as MLflow allows it, refusing the names model URIs reserve for versions."""
    if not isinstance(alias, str) or not alias:
        raise InvalidInput("alias must be a non-empty string", field="alias")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidInput(f"alias is longer than {MAX_ALIAS_LENGTH} characters", field="alias")
    if not _ALIAS.match(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}: only letters, digits, '_' and '-' are allowed",
            field="alias",
        )
    if alias.lower() == "latest":
        raise InvalidInput("the alias 'latest' (any case) is reserved", field="alias")
    if _VERSION_LIKE.match(alias):
        raise InvalidInput(
            f"the alias {alias!r} is reserved: it reads as a version reference", field="alias"
        )
    return alias
