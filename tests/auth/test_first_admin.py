"""The first server admin of an unattended install (MODELYARD_ADMIN_USER + token file)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from modelyard.auth import admin, tokens
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.errors import InvalidInput


def test_the_first_admin_is_made_once_with_a_private_token_file(
    database_url: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "admin.token"
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        assert admin.ensure_first_admin(conn, "alice", token_file)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token_id, _ = tokens.parse(token_file.read_text().strip())
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        (alice,) = [u for u in admin.list_users(conn) if u["name"] == "alice"]
        assert alice["is_admin"]
        assert [t["token_id"] for t in admin.list_tokens(conn, "alice")] == [token_id]
        # A server admin exists now: a second start (even naming another user) changes nothing.
        assert not admin.ensure_first_admin(conn, "bob", tmp_path / "other.token")
        assert not (tmp_path / "other.token").exists()
        assert {u["name"] for u in admin.list_users(conn)} == {"alice"}


def test_an_existing_token_file_is_never_overwritten(database_url: str, tmp_path: Path) -> None:
    token_file = tmp_path / "admin.token"
    token_file.write_text("keep me")
    with pytest.raises(InvalidInput, match="exists already"):
        with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
            admin.ensure_first_admin(conn, "alice", token_file)
    assert token_file.read_text() == "keep me"
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        # The failed start left no admin behind (one transaction).
        assert [u for u in admin.list_users(conn) if u["name"] == "alice"] == []
