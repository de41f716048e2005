"""Keyset pagination shared by the store's list methods: a page of records and an opaque cursor.

A page token encodes the sort key of the last row returned; the next query continues strictly
after it, so pages stay stable while rows are inserted or deleted, and the cost of a page does
not grow with its position (no OFFSET).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Generic, TypeVar

import msgspec

from modelyard.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class Page(msgspec.Struct, Generic[T]):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


def encode_cursor(values: list[Any]) -> str:
    """An opaque, URL-safe token holding the sort key of the last row of a page."""
    return base64.urlsafe_b64encode(msgspec.json.encode(values)).decode("ascii").rstrip("=")


def decode_cursor(token: str) -> list[Any]:
    """The sort key a token holds; a token that was not made by :func:`encode_cursor` is refused."""
    if not isinstance(token, str) or not token:
        raise InvalidInput("page_token must be a non-empty string", field="page_token")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        values = msgspec.json.decode(raw)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput("page_token is not a valid page token", field="page_token") from None
    if not isinstance(values, list):
        raise InvalidInput("page_token is not a valid page token", field="page_token")
    return values


def check_page_size(limit: object) -> int:
    """A page size between 1 and :data:`MAX_PAGE_SIZE`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_PAGE_SIZE}", field="limit")
    return limit
