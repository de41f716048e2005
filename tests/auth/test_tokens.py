"""API tokens and durations: pure logic, no database."""

from __future__ import annotations

import datetime as dt

import pytest

from modelyard.auth import admin, tokens
from modelyard.errors import InvalidInput, Unauthenticated


def test_a_token_reads_myd_id_secret_and_parses_back() -> None:
    made = tokens.new_token()
    prefix, token_id, secret = made.text.split("_")
    assert prefix == "myd" and token_id == made.token_id
    assert len(secret) == 64  # 256 random bits, hex
    assert tokens.parse(made.text) == (token_id, secret)
    assert tokens.digest(secret) == made.secret_sha256


def test_tokens_are_random() -> None:
    assert len({tokens.new_token().text for _ in range(100)}) == 100


def test_only_the_right_secret_matches() -> None:
    made = tokens.new_token()
    _, secret = tokens.parse(made.text)
    assert tokens.matches(secret, made.secret_sha256)
    assert not tokens.matches(secret[:-1] + ("0" if secret[-1] != "0" else "1"), made.secret_sha256)
    assert not tokens.matches(secret, None)


@pytest.mark.parametrize(
    "text", ["", "myd_abc_def", "Bearer x", "myd_" + "0" * 12 + "_" + "g" * 64, "xyz_" + "0" * 77]
)
def test_malformed_tokens_are_unauthenticated(text: str) -> None:
    with pytest.raises(Unauthenticated):
        tokens.parse(text)


def test_the_repr_of_a_new_token_hides_the_secret() -> None:
    made = tokens.new_token()
    assert tokens.parse(made.text)[1] not in repr(made)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30d", dt.timedelta(days=30)), ("12h", dt.timedelta(hours=12)), ("2w", dt.timedelta(14))],
)
def test_durations(text: str, expected: dt.timedelta) -> None:
    assert admin.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "0d", "d", "3y", "-1d", "1.5h"])
def test_bad_durations_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        admin.parse_duration(text)
