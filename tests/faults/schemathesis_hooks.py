"""Schemathesis hooks for ``test_schemathesis.py`` (loaded through ``SCHEMATHESIS_HOOKS``).

A page token is opaque: only a ``next_page_token`` the same listing returned is one, and no
generator can invent it from the document's pattern. A schema-valid token (one the document
allows) is replaced by the empty token, which the server reads as "the first page"; a token
that breaks the pattern is left alone, so the negative cases still check that it is refused.
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis

from modelyard.limits import PAGE_TOKEN_PATTERN

_TOKEN = re.compile(PAGE_TOKEN_PATTERN)


def _schema_valid(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN.search(value))


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    if isinstance(case.query, dict) and _schema_valid(case.query.get("page_token")):
        case.query["page_token"] = ""
    if isinstance(case.body, dict) and _schema_valid(case.body.get("page_token")):
        case.body["page_token"] = None
