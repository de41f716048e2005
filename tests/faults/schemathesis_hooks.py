"""Schemathesis hooks for ``test_schemathesis.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

Formats: the document names with a format what no pattern can state (the search grammar; a
webhook URL whose host must resolve to public addresses). The strategies registered here make
only values of those formats, so a refusal of one is a real failure: filters and order-by items
from ``search_strategies`` (checked against the parser in tests/search), webhook URLs with a
public address literal for a host (no DNS on these machines, and a name could resolve anywhere).

A metric batch's columns (keys, values, steps, timestamps) have one item per point each: a rule
across fields that JSON Schema cannot state. A positive case is cut to its shortest column, so
it obeys the rule; negative cases are left alone.

A page token is opaque: only a ``next_page_token`` the same listing returned is one, and no
generator can invent it from the document's pattern. A schema-valid token (one the document
allows) is replaced by the empty token, which the server reads as "the first page"; a token
that breaks the pattern is left alone, so the negative cases still check that it is refused.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from hypothesis import strategies as st

from modelyard.limits import PAGE_TOKEN_PATTERN
from search_strategies import FORMATS

for name, strategy in FORMATS.items():
    schemathesis.openapi.format(name, strategy)
# Public addresses (is_global), written as literals so nothing is resolved.
_PUBLIC_HOSTS = st.sampled_from(["93.184.216.34", "8.8.8.8", "1.1.1.1:8443", "[2606:4700::1111]"])
_URL_PATH = st.text(st.sampled_from("abcxyz019-._~/"), max_size=20)
schemathesis.openapi.format(
    "webhook-url",
    st.tuples(_PUBLIC_HOSTS, _URL_PATH, st.sampled_from(["", "?a=1"])).map(
        lambda p: f"https://{p[0]}/{p[1]}{p[2]}"
    ),
)

_TOKEN = re.compile(PAGE_TOKEN_PATTERN)


def _schema_valid(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN.search(value))


_COLUMNS = ("keys", "values", "steps", "timestamps")


def _equal_columns(case: Any) -> None:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    if case.operation.label != "POST /api/v1/runs/{run_id}/metrics":
        return
    columns = [case.body[c] for c in _COLUMNS if isinstance(case.body.get(c), list)]
    if columns:
        shortest = min(len(c) for c in columns)
        for name in _COLUMNS:
            if isinstance(case.body.get(name), list):
                case.body[name] = case.body[name][:shortest]


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    _equal_columns(case)
    if isinstance(case.query, dict) and _schema_valid(case.query.get("page_token")):
        case.query["page_token"] = ""
    if isinstance(case.body, dict) and _schema_valid(case.body.get("page_token")):
        case.body["page_token"] = None
