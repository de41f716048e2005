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

# Each rule below is one regular expression that both the checks here and the OpenAPI document
# (``pattern``) use, so what the server enforces and what it documents cannot drift. The
# patterns are valid in Python and in JSON Schema's ECMA-262 dialect; each ends in ``(?!\n)$``
# because Python's ``$`` (and so a Python generator of the document's patterns) would otherwise
# accept one trailing newline.
_END = r"(?!\n)$"
# Keys: letters, digits, _ - . space : and /, as MLflow allows; no leading '/', no '..' segment.
_KEY_CHAR = r"[\w\-. :]"
_KEY_NON_DOT = r"[\w\- :]"
_KEY_SEGMENT = rf"(?:{_KEY_NON_DOT}{_KEY_CHAR}*|\.(?:{_KEY_NON_DOT}{_KEY_CHAR}*)?|\.\.{_KEY_CHAR}+)"
KEY_PATTERN = rf"^{_KEY_SEGMENT}(?:/{_KEY_SEGMENT}?)*{_END}"
_KEY_CHARS = re.compile(r"^[\w\-. :/]+\Z")
# Names may hold any text but control, format and line-separator characters (which break
# displays and allow spoofing: bidi overrides, zero-width characters), and not only spaces.
_NOT_IN_NAMES = (
    r"\x00-\x1f\x7f-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
)
NAME_PATTERN = rf"^[^{_NOT_IN_NAMES}]*[^{_NOT_IN_NAMES}\s][^{_NOT_IN_NAMES}]*{_END}"
# Digests (of dataset versions): like a name, without any space.
DIGEST_PATTERN = rf"^[^{_NOT_IN_NAMES}\s]+{_END}"
# Aliases: letters, digits, '_' and '-', never 'latest' (any case) nor a version reference
# ('v3'): model URIs read models:/name@v3 and models:/name/latest as versions.
_ALIAS_CHARS = re.compile(r"^[A-Za-z0-9_-]+\Z")
ALIAS_PATTERN = (
    rf"^(?![Ll][Aa][Tt][Ee][Ss][Tt]$)(?![vV][0-9]+$)[A-Za-z0-9_-]{{1,{MAX_ALIAS_LENGTH}}}{_END}"
)
# Run ids (and the other UUID ids): 32 hex digits, as MLflow writes them, or the dashed form.
UUID_PATTERN = (
    r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    rf"-[0-9a-fA-F]{{12}}){_END}"
)
# Identities (the schema's CHECK constraints app_user_name_ck and workspace_name_ck say the same;
# tests/auth/test_identity_rules.py holds the two together). User names: letters, digits and
# _ . @ -, not first; workspace names: lowercase, as they appear in URLs and headers.
MAX_USER_NAME_LENGTH = 128
USER_NAME_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.@-]{{0,{MAX_USER_NAME_LENGTH - 1}}}{_END}"
MAX_WORKSPACE_NAME_LENGTH = 63
WORKSPACE_NAME_PATTERN = rf"^[a-z0-9][a-z0-9_-]{{0,{MAX_WORKSPACE_NAME_LENGTH - 1}}}{_END}"
# Token lifetimes: a whole number of minutes, hours, days or weeks, without leading zeros.
DURATION_PATTERN = rf"^[1-9][0-9]{{0,5}}[mhdw]{_END}"
# Text values (params, tags, descriptions) may hold anything but NUL, which PostgreSQL refuses.
TEXT_PATTERN = r"^[^\x00]*$"
_KEY = re.compile(KEY_PATTERN)
NAME_RE = re.compile(NAME_PATTERN)
DIGEST_RE = re.compile(DIGEST_PATTERN)
_ALIAS = re.compile(ALIAS_PATTERN)
_UUID = re.compile(UUID_PATTERN)
_TEXT = re.compile(TEXT_PATTERN)
_VERSION_LIKE = re.compile(r"^[vV][0-9]+\Z")


def string_schema(pattern: str, max_length: int, min_length: int = 1) -> dict[str, object]:
    """The JSON schema of a string rule, as the OpenAPI document states it."""
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": pattern}


KEY_SCHEMA = string_schema(KEY_PATTERN, MAX_KEY_LENGTH)
NAME_SCHEMA = string_schema(NAME_PATTERN, MAX_NAME_LENGTH)
ALIAS_SCHEMA = string_schema(ALIAS_PATTERN, MAX_ALIAS_LENGTH)
UUID_SCHEMA = string_schema(UUID_PATTERN, 36, 32)
USER_NAME_SCHEMA = string_schema(USER_NAME_PATTERN, MAX_USER_NAME_LENGTH)
WORKSPACE_NAME_SCHEMA = string_schema(WORKSPACE_NAME_PATTERN, MAX_WORKSPACE_NAME_LENGTH)
DURATION_SCHEMA = string_schema(DURATION_PATTERN, 7)
_USER_NAME = re.compile(USER_NAME_PATTERN)
_WORKSPACE_NAME = re.compile(WORKSPACE_NAME_PATTERN)
DURATION_RE = re.compile(DURATION_PATTERN)


def check_user_name(name: object, field: str = "name") -> str:
    """A user or service account name (USER_NAME_PATTERN)."""
    if not isinstance(name, str) or not _USER_NAME.search(name):
        raise InvalidInput(
            f"{field} must be 1 to {MAX_USER_NAME_LENGTH} letters, digits, '_', '.', '@' or '-',"
            " starting with a letter or digit",
            field=field,
        )
    return name


def check_workspace_name(name: object, field: str = "name") -> str:
    """A workspace name (WORKSPACE_NAME_PATTERN)."""
    if not isinstance(name, str) or not _WORKSPACE_NAME.search(name):
        raise InvalidInput(
            f"{field} must be 1 to {MAX_WORKSPACE_NAME_LENGTH} lowercase letters, digits, '_' or"
            " '-', starting with a letter or digit",
            field=field,
        )
    return name


# Page tokens: URL-safe base64 the server issued (opaque to clients); empty means the first page.
MAX_PAGE_TOKEN_LENGTH = 4096
PAGE_TOKEN_PATTERN = rf"^[A-Za-z0-9_-]{{0,{MAX_PAGE_TOKEN_LENGTH}}}{_END}"
PAGE_TOKEN_SCHEMA = {
    **string_schema(PAGE_TOKEN_PATTERN, MAX_PAGE_TOKEN_LENGTH, 0),
    # Only a next_page_token this listing returned is a token; the format says so.
    "format": "page-token",
}
_PAGE_TOKEN = re.compile(PAGE_TOKEN_PATTERN)


def is_page_token(value: object) -> bool:
    """Whether ``value`` has the form of a page token (whether it is one is the listing's call)."""
    return isinstance(value, str) and bool(_PAGE_TOKEN.search(value))


def text_schema(max_length: int) -> dict[str, object]:
    return string_schema(TEXT_PATTERN, max_length, 0)


def check_key(key: object, field: str = "key") -> str:
    """A param, tag or metric key."""
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"{field} is longer than {MAX_KEY_LENGTH} characters", field=field)
    if not _KEY.search(key):
        if not _KEY_CHARS.match(key):
            raise InvalidInput(
                f"{field} {key!r} may only hold letters, digits, '_', '-', '.', ' ', ':' and '/'",
                field=field,
            )
        raise InvalidInput(f"{field} {key!r} must be a relative path without '..'", field=field)
    return key


def check_name(name: object, field: str = "name") -> str:
    """An experiment, run or registered model name: text up to 256 characters (NAME_PATTERN)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"{field} is longer than {MAX_NAME_LENGTH} characters", field=field)
    if not NAME_RE.search(name):
        raise InvalidInput(
            f"{field} must not contain control or format characters, nor be only spaces",
            field=field,
        )
    return name


def check_text(value: object, field: str, max_length: int) -> str:
    """A string value (param value, tag value, description) up to ``max_length`` characters."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    if len(value) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    if not _TEXT.search(value):
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


def check_uuid(value: object, field: str = "run_id", what: str = "run id") -> uuid.UUID:
    """A run id (or another UUID id) as a UUID; the 32-hex form MLflow uses or the dashed form."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not _UUID.search(value):
        raise InvalidInput(f"{field} {value!r} is not a valid {what}", field=field)
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidInput(f"{field} {value!r} is not a valid {what}", field=field) from None


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
    if not _ALIAS_CHARS.match(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}: only letters, digits, '_' and '-' are allowed",
            field="alias",
        )
    if alias.lower() == "latest":
        raise InvalidInput("the alias 'latest' (any case) is reserved", field="alias")
    if _VERSION_LIKE.match(alias) or not _ALIAS.search(alias):
        raise InvalidInput(
            f"the alias {alias!r} is reserved: it reads as a version reference", field="alias"
        )
    return alias
