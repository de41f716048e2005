"""Case-sensitive patterns that are a plain prefix or have no wildcard are compiled to the
leakproof ``^@`` and ``=`` (so that, under row-level security, the planner keeps the column's
statistics), and they select exactly the rows LIKE selects, on real PostgreSQL."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest
from psycopg import sql
from test_compiler import text_of

from modelyard.search._fragment import Bind, compose
from modelyard.search.ast import Op
from modelyard.search.compiler import compile_run_filter, text_condition
from modelyard.search.parser import parse_filter


@pytest.mark.parametrize(
    ("op", "pattern", "shape", "bound"),
    [
        (Op.LIKE, "vision%", "(%s ^@ %s)", "vision"),
        (Op.NOT_LIKE, "vision%", "(NOT (%s ^@ %s))", "vision"),
        (Op.LIKE, "exact", "(%s = %s)", "exact"),
        (Op.NOT_LIKE, "exact", "(NOT (%s = %s))", "exact"),
        (Op.LIKE, "%", "(%s ^@ %s)", ""),
        # Anything else stays a LIKE: inner wildcards, an escape, a case-insensitive match.
        (Op.LIKE, "a%b%", "(%s LIKE %s)", "a%b%"),
        (Op.LIKE, "a_c%", "(%s LIKE %s)", "a_c%"),
        (Op.LIKE, "%suffix", "(%s LIKE %s)", "%suffix"),
        (Op.LIKE, "100\\%%", "(%s LIKE %s)", "100\\%%"),
        (Op.ILIKE, "vision%", "(%s ILIKE %s)", "vision%"),
        (Op.EQ, "vision%", "(%s = %s)", "vision%"),
    ],
)
def test_the_shape_of_each_pattern(op: Op, pattern: str, shape: str, bound: str) -> None:
    fragment = text_condition(compose("{}", Bind("column")), op, pattern)
    assert text_of(fragment) == shape
    assert fragment.params == ("column", bound)


def test_a_tag_prefix_filter_is_sent_as_starts_with() -> None:
    fragment = compile_run_filter(parse_filter("tags.team LIKE 'vision%'"))
    assert "^@" in text_of(fragment) and "LIKE" not in text_of(fragment)
    assert fragment.params == ("team", "vision")


VALUES = ["", "v", "vision", "visionary", "Vision", "vis", "a%b", "100%", "x_y", "é-vision", None]
PATTERNS = ["vision%", "vis%", "%", "", "vision", "Vision%", "é%", "a%b%", "100\\%%", "x_y"]


def test_the_rewritten_conditions_select_what_like_selects(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        wrong = []
        for value, pattern, op in itertools.product(VALUES, PATTERNS, (Op.LIKE, Op.NOT_LIKE)):
            fragment = text_condition(compose("{}::text", Bind(value)), op, pattern)
            keyword = "LIKE" if op is Op.LIKE else "NOT LIKE"
            expected = _one(conn, sql.SQL("SELECT %s::text " + keyword + " %s"), (value, pattern))
            got = _one(conn, sql.SQL("SELECT {}").format(fragment.sql), fragment.params)
            if got != expected:
                wrong.append(f"{value!r} {keyword} {pattern!r}: {got}, LIKE says {expected}")
        assert not wrong, "\n".join(wrong)


def _one(conn: psycopg.Connection[Any], query: sql.Composable, params: tuple[Any, ...]) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]
