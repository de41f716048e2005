"""The URIs that name a model version or a dataset version: ``models:/name/3``,
``models:/name@alias``, ``models:/name/latest`` and ``dataset:name@digest``.

Parsed here, outside the store, so the client reads a URI exactly as the server does without
importing the database layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from modelyard.errors import InvalidInput
from modelyard.limits import (
    ALIAS_PATTERN,
    DIGEST_PATTERN,
    NAME_PATTERN,
    check_alias,
    check_version,
)

# The forms parse_uri reads, as one pattern that parse_uri checks first and the OpenAPI document
# states. Versions go up to nine digits here (a version number a regular expression can bound).
# Names and digests take the characters the name and digest rules allow (no control characters),
# so a URI the document calls valid never carries a NUL to the database.


def _body(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("(?!\\n)$")


_ALIAS_BODY = _body(ALIAS_PATTERN)
_NAME_BODY = _body(NAME_PATTERN)
_DIGEST_BODY = _body(DIGEST_PATTERN)
URI_PATTERN = (
    rf"^(?:models:/{_NAME_BODY}/(?:latest|[1-9][0-9]{{0,8}})|models:/{_NAME_BODY}@"
    + _ALIAS_BODY
    + rf"|dataset:{_NAME_BODY}@{_DIGEST_BODY})(?!\n)$"
)
_URI = re.compile(URI_PATTERN)


@dataclass(frozen=True)
class ModelVersionRef:
    """``models:/name/3``, ``models:/name@alias`` or ``models:/name/latest``."""

    name: str
    version: int | None = None
    alias: str | None = None


@dataclass(frozen=True)
class DatasetVersionRef:
    """``dataset:name@digest``."""

    name: str
    digest: str


def parse_uri(uri: object) -> ModelVersionRef | DatasetVersionRef:
    """What a lineage URI names; anything else is InvalidInput saying which forms exist."""
    if not isinstance(uri, str) or not _URI.search(uri):
        if isinstance(uri, str) and uri.startswith("models:/"):
            # models:/NAME/0 is the right form with a wrong number: say what is wrong with it.
            _head, slash, tail = uri.rpartition("/")
            if slash and tail.isascii() and tail.isdigit():
                check_version(tail)
        raise _bad_uri(uri)
    if uri.startswith("models:/"):
        return _parse_model_uri(uri, uri[len("models:/") :])
    if uri.startswith("dataset:"):
        name, at, digest = uri[len("dataset:") :].rpartition("@")
        if not at or not name or not digest:
            raise _bad_uri(uri)
        return DatasetVersionRef(name, digest)
    raise _bad_uri(uri)


def _parse_model_uri(uri: str, rest: str) -> ModelVersionRef:
    head, slash, tail = rest.rpartition("/")
    if slash and head and tail == "latest":
        return ModelVersionRef(head)
    if slash and head and tail.isascii() and tail.isdigit():
        return ModelVersionRef(head, version=check_version(tail))
    name, at, alias = rest.rpartition("@")
    if at and name and alias:
        return ModelVersionRef(name, alias=check_alias(alias))
    raise _bad_uri(uri)


def _bad_uri(uri: object) -> InvalidInput:
    return InvalidInput(
        f"cannot read {uri!r} as a lineage URI: use models:/NAME/VERSION, models:/NAME@ALIAS, "
        "models:/NAME/latest or dataset:NAME@DIGEST",
        field="uri",
    )
