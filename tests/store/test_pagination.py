"""Page tokens and page splitting (pure logic, no database)."""

from __future__ import annotations

import base64
import json

import msgspec
import pytest

from modelyard.errors import InvalidInput
from modelyard.store.pagination import (
    MAX_PAGE_SIZE,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    split_page,
)


def _raw_token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_round_trip_keeps_values_and_types() -> None:
    token = encode_cursor("runs", [1_700_000_000_123_456, "ab" * 16])
    assert decode_cursor(token, "runs", (int, str)) == [1_700_000_000_123_456, "ab" * 16]


def test_token_is_url_safe_and_opaque() -> None:
    token = encode_cursor("runs", ["a/b+c?d=e&f", 2**62])
    assert all(ch.isalnum() or ch in "-_" for ch in token)
    assert decode_cursor(token, "runs", (str, int)) == ["a/b+c?d=e&f", 2**62]


def test_token_of_another_listing_is_refused() -> None:
    token = encode_cursor("experiments", [5])
    with pytest.raises(InvalidInput) as caught:
        decode_cursor(token, "runs", (int,))
    assert caught.value.details["field"] == "page_token"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 at all!",
        "%%%",
        base64.urlsafe_b64encode(b"\xff\xfe not json").decode(),
        _raw_token({"scope": "runs"}),
        _raw_token(["runs"]),
        _raw_token(["runs", 1, 2]),
        _raw_token(["runs", "1"]),
        _raw_token(["runs", 1.0]),
        _raw_token(["runs", True]),
        _raw_token(["runs", None]),
        "A" * 5000,
    ],
)
def test_malformed_tokens_are_invalid_input(token: str) -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(token, "runs", (int,))


def test_non_string_token_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        decode_cursor(12345, "runs", (int,))  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [1, 50, MAX_PAGE_SIZE])
def test_check_limit_accepts_range(limit: int) -> None:
    assert check_limit(limit) == limit


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, "10", 2.0, True, None])
def test_check_limit_refuses_out_of_range_and_non_ints(limit: object) -> None:
    with pytest.raises(InvalidInput):
        check_limit(limit)


def test_check_limit_custom_maximum() -> None:
    assert check_limit(5000, maximum=50_000) == 5000
    with pytest.raises(InvalidInput):
        check_limit(50_001, maximum=50_000)


def test_split_page_with_extra_row_returns_last_of_page() -> None:
    page, last = split_page([1, 2, 3, 4], 3)
    assert page == [1, 2, 3]
    assert last == 3


@pytest.mark.parametrize("rows", [[], [1], [1, 2, 3]])
def test_split_page_without_extra_row_is_the_last_page(rows: list[int]) -> None:
    page, last = split_page(rows, 3)
    assert page == rows
    assert last is None


def test_page_encodes_to_json() -> None:
    page = Page(items=[1, 2], next_page_token="abc")
    assert msgspec.json.decode(msgspec.json.encode(page)) == {
        "items": [1, 2],
        "next_page_token": "abc",
    }
