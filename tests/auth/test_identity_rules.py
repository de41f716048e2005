"""The rules of user and workspace names and token lifetimes: one definition
(``modelyard.limits``) that the admin functions check, the OpenAPI document states, and the
schema's CHECK constraints agree with (compared here on real PostgreSQL, string by string)."""

from __future__ import annotations

import re

import psycopg
import pytest

from modelyard import limits
from modelyard.auth import admin
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.errors import InvalidInput
from modelyard.server import create_app
from modelyard.server.api.openapi import api_route_list, build_document
from modelyard.settings import Settings

USER_NAMES = ["ada", "A", "svc.ci@team-1", "x" * 128, "x" * 129, "_ada", "-a", "", "a b",
              "a\n", "é", "a/b", "1", "a" + "." * 127]  # fmt: skip
WORKSPACE_NAMES = ["default", "team-1", "a_b", "a" * 63, "a" * 64, "Team", "-a", "_a", "",
                   "a.b", "a\n", "ü", "0"]  # fmt: skip


def _check_constraint(conn: psycopg.Connection[tuple[object, ...]], name: str) -> str:
    row = conn.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [name]
    ).fetchone()
    assert row is not None, name
    found = re.search(r"~ '(.*)'::text", str(row[0]))
    assert found, row[0]
    return found.group(1)


def _python_accepts(check: object, value: str) -> bool:
    try:
        check(value)  # type: ignore[operator]
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize(
    ("constraint", "check", "samples"),
    [
        ("app_user_name_ck", limits.check_user_name, USER_NAMES),
        ("workspace_name_ck", limits.check_workspace_name, WORKSPACE_NAMES),
    ],
)
def test_the_schema_and_the_checks_accept_the_same_names(
    database_url: str, constraint: str, check: object, samples: list[str]
) -> None:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        pattern = _check_constraint(conn, constraint)
        for sample in samples:
            row = conn.execute("SELECT %s ~ %s", [sample, pattern]).fetchone()
            assert row is not None
            assert row[0] == _python_accepts(check, sample), (constraint, sample)


def test_bad_names_are_refused_before_any_sql(database_url: str) -> None:
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        with pytest.raises(InvalidInput, match="letters, digits"):
            admin.create_user(conn, "no spaces", admin=False, service=False)
        with pytest.raises(InvalidInput, match="lowercase"):
            admin.create_workspace(conn, "Upper")


@pytest.mark.parametrize(("text", "ok"), [("30d", True), ("999999w", True), ("1m", True),
                         ("030d", False), ("0d", False), ("1000000d", False), ("12", False),
                         ("1.5h", False), ("-1d", False)])  # fmt: skip
def test_durations_follow_the_stated_pattern(text: str, ok: bool) -> None:
    assert bool(limits.DURATION_RE.search(text)) is ok
    if ok:
        assert admin.parse_duration(text).total_seconds() > 0
    else:
        with pytest.raises(InvalidInput):
            admin.parse_duration(text)


def test_a_trailing_newline_is_not_a_duration() -> None:
    assert not limits.DURATION_RE.search("1d\n")  # Python's $ alone would accept it


def test_the_admin_api_states_the_rules() -> None:
    app = create_app(Settings(database_url="unused"), "unused")
    schemas = build_document(api_route_list(app.routes))["components"]["schemas"]
    assert schemas["CreateUser"]["properties"]["name"]["pattern"] == limits.USER_NAME_PATTERN
    assert (
        schemas["CreateWorkspace"]["properties"]["name"]["pattern"]
        == limits.WORKSPACE_NAME_PATTERN
    )
