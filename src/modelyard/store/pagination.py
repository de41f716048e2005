"""Keyset pagination: a generic ``Page`` and opaque cursor tokens shared by every listing.

A cursor holds the sort key of the last item of a page. The next page asks for rows strictly after
that key, so an index range scan serves every page at the same cost, and rows inserted or deleted
meanwhile cause neither duplicates nor gaps among the rows that stay (unlike OFFSET).

A token is URL-safe base64 of a small JSON array ``[scope, *key]``. The scope names the listing
(e.g. ``"runs"``) so a token of one listing is refused by another instead of silently returning
wrong rows. Tokens are opaque to clients: they are not signed, but the store only reads typed
values out of them and passes them as query parameters, so a forged token can at worst skip rows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Generic, TypeVar

import msgspec

from modelyard.errors import InvalidInput
from modelyard.limits import is_page_token

T = TypeVar("T")
R = TypeVar("R")

# The JSON scalar types a cursor key may hold.
CursorValue = str | int | float | bool | None

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


class Page(msgspec.Struct, Generic[T]):
    """One page of a listing; ``next_page_token`` is None on the last page."""

    items: list[T]
    next_page_token: str | None = None


def encode_cursor(scope: str, key: Sequence[CursorValue]) -> str:
    """The opaque token for the page that starts after ``key`` in the listing ``scope``."""
    raw = json.dumps([scope, *key], separators=(",", ":"), allow_nan=False).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(
    token: str, scope: str, types: Sequence[type | tuple[type, ...]]
) -> list[CursorValue]:
    """The key in ``token``, checked against ``scope`` and one expected type per key part.

    Anything that is not a token of this listing raises :class:`InvalidInput`.
    """
    if not token or not is_page_token(token):
        raise _bad_token()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad_token() from None
    if not isinstance(decoded, list) or len(decoded) != len(types) + 1 or decoded[0] != scope:
        raise _bad_token()
    key: list[CursorValue] = decoded[1:]
    for value, expected in zip(key, types, strict=True):
        # bool is an int subclass; a cursor never means True where it expects a number.
        if isinstance(value, bool) and expected is not bool:
            raise _bad_token()
        if not isinstance(value, expected):
            raise _bad_token()
    return key


def check_limit(limit: object, maximum: int = MAX_PAGE_SIZE) -> int:
    """A page size between 1 and ``maximum``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidInput(f"limit must be an integer from 1 to {maximum}", field="limit")
    return limit


def split_page(rows: Sequence[R], limit: int) -> tuple[list[R], R | None]:
    """Split rows fetched with ``LIMIT limit + 1`` into the page and the row to build a cursor from.

    Fetching one extra row tells whether another page exists without a count query, so the last
    page never carries a token that leads to an empty page. The second value is the last row of
    the page when a next page exists, else None.
    """
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, page[-1]


def _bad_token() -> InvalidInput:
    return InvalidInput("page_token is not a valid page token for this listing", field="page_token")
