"""Opaque page tokens for searches, bound to the search that issued them.

A token is URL-safe base64 of a small JSON object holding where the next page starts and a
fingerprint of the search (experiments, filter, order, lifecycle). A token replayed with another
filter is refused rather than silently returning the wrong rows. Tokens are not signed: the store
reads only typed values out of them and binds them as query parameters, so a forged token can at
worst skip rows the caller may see anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.limits import is_page_token


def fingerprint(*parts: object) -> str:
    """A short digest of the search parameters a token belongs to."""
    text = json.dumps(parts, separators=(",", ":"), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def encode(search: str, **position: Any) -> str:
    raw = json.dumps({"f": search, **position}, separators=(",", ":"), allow_nan=False)
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode(token: str, search: str) -> dict[str, Any]:
    """The position in ``token``; :class:`InvalidInput` unless it is a token of ``search``."""
    if not token or not is_page_token(token):
        raise invalid_token()
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise invalid_token() from None
    if not isinstance(decoded, dict) or decoded.get("f") != search:
        raise invalid_token()
    return decoded


def get_int(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid_token()
    return value


def get_str(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise invalid_token()
    return value


def invalid_token() -> InvalidInput:
    return InvalidInput("page_token is not a valid page token for this search", field="page_token")
