"""The compiler puts every user value — keys included — in the params, never in the SQL text."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from psycopg import sql

from modelyard.search._fragment import Fragment
from modelyard.search.ast import Number
from modelyard.search.compiler import (
    compile_model_version_filter,
    compile_run_filter,
    ms_to_datetime,
)
from modelyard.search.fields import MODEL_VERSIONS
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.search.run_query import keyset_query, paged, segment_queries


def text_of(fragment: Fragment) -> str:
    """The SQL text without a connection: identifiers and literals here are our own."""

    def render(part: sql.Composable) -> str:
        if isinstance(part, sql.Composed):
            return "".join(render(p) for p in part)
        if isinstance(part, sql.SQL):
            return part.as_string(None)
        if isinstance(part, sql.Placeholder):
            return "%s"
        raise AssertionError(f"unexpected SQL part {part!r}")  # no Literal, no Identifier

    return render(fragment.sql)


HOSTILE = "x'); DROP TABLE run; --"


@pytest.mark.parametrize(
    "text",
    [
        f"params.`{HOSTILE}` = '{HOSTILE.replace(chr(39), chr(39) * 2)}'",
        f"tags.`{HOSTILE}` LIKE 'a%'",
        f"metrics.`{HOSTILE}` > 1",
        f"params.`{HOSTILE}` IS NULL",
        f"params.`{HOSTILE}` IN ('a', 'b')",
        f"params.`{HOSTILE}` > 0.5",
        f"attributes.run_name = '{HOSTILE.replace(chr(39), chr(39) * 2)}'",
    ],
)
def test_user_text_only_in_params(text: str) -> None:
    fragment = compile_run_filter(parse_filter(text))
    rendered = text_of(fragment)
    assert "DROP" not in rendered and "x'" not in rendered
    assert rendered.count("%s") == len(fragment.params)
    assert any(HOSTILE in str(p) for p in fragment.params)


def test_shapes_and_params_in_order() -> None:
    fragment = compile_run_filter(
        parse_filter("metrics.loss < 0.5 and params.lr = '0.01' and tags.team LIKE 'v%'")
    )
    # The LIKE of a plain prefix is sent as ^@ with the prefix (test_like_rewrite.py).
    assert fragment.params == ("loss", 0.5, "lr", "0.01", "team", "v")
    rendered = text_of(fragment)
    assert rendered.count("%s") == 6
    assert "EXISTS (SELECT 1 FROM run_param kv WHERE kv.run_id = r.run_id AND kv.key = %s" in (
        rendered
    )
    assert "(kv.value ^@ %s)" in rendered


def test_numeric_param_comparison_is_guarded_and_exact() -> None:
    fragment = compile_run_filter(parse_filter("params.lr > 0.001"))
    rendered = text_of(fragment)
    assert "CASE WHEN char_length(kv.value) <= 1000 AND kv.value ~ " in rendered
    assert "THEN kv.value::numeric END) > %s" in rendered
    assert fragment.params == ("lr", Decimal("0.001"))


def test_metric_comparisons_exclude_nan() -> None:
    greater = text_of(compile_run_filter(parse_filter("metrics.a > 1")))
    assert "ms.last_value > %s AND ms.last_value < 'NaN'::float8" in greater
    less = text_of(compile_run_filter(parse_filter("metrics.a < 1")))
    assert "NaN" not in less  # NaN is never below a number in PostgreSQL


def test_boolean_structure() -> None:
    rendered = text_of(
        compile_run_filter(parse_filter("NOT status = 'A' AND (status = 'B' OR status = 'C')"))
    )
    assert rendered == "((NOT (r.status = %s)) AND ((r.status = %s) OR (r.status = %s)))"


def test_attributes_convert_values() -> None:
    fragment = compile_run_filter(
        parse_filter(
            f"attributes.start_time > 1700000000123 AND attributes.run_id IN ('x', '{'a' * 32}')"
        )
    )
    started, ids = fragment.params
    assert started == datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert ids == [uuid.UUID("a" * 32)]  # 'x' is no run id and can match nothing


def test_time_out_of_range_is_clamped() -> None:
    assert ms_to_datetime(Number("1e300")).year == 9999
    assert ms_to_datetime(Number("-1e300")).year == 1


def test_empty_filter_is_true() -> None:
    assert text_of(compile_run_filter(None)) == "TRUE"


def test_model_version_filter() -> None:
    fragment = compile_model_version_filter(
        parse_filter("name = 'm' AND version_number >= 2 AND tags.t = 'x'", MODEL_VERSIONS)
    )
    rendered = text_of(fragment)
    assert "(rm.name = %s)" in rendered and "(v.version >= %s)" in rendered
    assert "model_version_tag kv WHERE kv.model_id = v.model_id" in rendered
    assert fragment.params == ("m", Decimal(2), "t", "x")


def test_search_queries_use_placeholders_for_everything() -> None:
    node = parse_filter(f"params.`{HOSTILE}` = 'a' OR metrics.`{HOSTILE}` > 1")
    terms = parse_order_by([f"metrics.`{HOSTILE}` DESC", f"params.`{HOSTILE}`"])
    queries = [
        *segment_queries([1, 2], "active", node, terms),
        keyset_query([1], "all", node, None, 10),
    ]
    for query in queries:
        query = paged(query, 10, 0)
        rendered = text_of(query)
        assert "DROP" not in rendered
        assert rendered.count("%s") == len(query.params)


def test_metric_first_order_reads_the_joined_row() -> None:
    segments = segment_queries(
        [7],
        "active",
        parse_filter("metrics.loss < 0.5 AND metrics.loss IS NOT NULL"),
        parse_order_by(["metrics.loss DESC"]),
    )
    with_metric, nan, missing = (text_of(s) for s in segments)
    assert "m0.last_value < %s" in with_metric and "TRUE" in with_metric
    assert "EXISTS" not in with_metric  # the condition became an index range on m0
    assert "m0.last_value = 'NaN'::float8" in nan
    assert "NOT EXISTS (SELECT 1 FROM metric_series m0" in missing and "FALSE" in missing
    assert segments[0].params[:2] == (7, "loss")
