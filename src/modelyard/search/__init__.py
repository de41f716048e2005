"""The search language of runs and model versions: parse a filter, compile it to SQL.

``parse_filter`` and ``parse_order_by`` turn text into a syntax tree (:mod:`.ast`), raising
:class:`modelyard.errors.FilterSyntaxError` with the 0-based position of the problem;
``compile_run_filter`` and ``compile_model_version_filter`` turn a tree into a ``psycopg.sql``
condition whose every user value is a bound parameter. :mod:`.run_query` assembles whole run
searches; the repositories in ``modelyard.store`` run them.
"""

from __future__ import annotations

from modelyard.search.ast import Entity, Node, OrderTerm
from modelyard.search.compiler import compile_model_version_filter, compile_run_filter
from modelyard.search.fields import MODEL_VERSIONS, RUNS, Target
from modelyard.search.parser import parse_filter, parse_order_by

__all__ = [
    "MODEL_VERSIONS",
    "RUNS",
    "Entity",
    "Node",
    "OrderTerm",
    "Target",
    "compile_model_version_filter",
    "compile_run_filter",
    "parse_filter",
    "parse_order_by",
]
