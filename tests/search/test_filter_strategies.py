"""The generators schemathesis uses for the search formats make only valid filters and orders.

If they made an invalid one, the positive-data check would blame the server for refusing it; if
the grammar changed and they did not, this fails first.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from modelyard.search.compiler import compile_model_version_filter, compile_run_filter
from modelyard.search.fields import MODEL_VERSIONS, RUNS
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.server.api.openapi import build_document
from search_strategies import FORMATS, filters, order_by_items

CHECKED = settings(max_examples=300, derandomize=True, database=None, deadline=None)


@CHECKED
@given(filters(RUNS))
def test_run_filters_parse_and_compile(text: str) -> None:
    compile_run_filter(parse_filter(text, RUNS))


@CHECKED
@given(filters(MODEL_VERSIONS))
def test_model_version_filters_parse_and_compile(text: str) -> None:
    compile_model_version_filter(parse_filter(text, MODEL_VERSIONS))


@CHECKED
@given(st.lists(order_by_items(RUNS), max_size=3), st.lists(order_by_items(MODEL_VERSIONS)))
def test_order_by_items_parse(runs: list[str], versions: list[str]) -> None:
    assert len(parse_order_by(runs, RUNS)) == len(runs)
    assert len(parse_order_by(versions, MODEL_VERSIONS)) == len(versions)


def _formats(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["format"]} if isinstance(node.get("format"), str) else set()
        return found.union(*(_formats(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(v) for v in node))
    return set()


def test_every_search_format_in_the_document_has_a_generator() -> None:
    from modelyard.server.api.search import routes

    document = build_document(routes)
    search_formats = {f for f in _formats(document) if f.endswith(("-filter", "-order-by"))}
    assert search_formats == set(FORMATS)
