"""docs/api.md documents every route of ``/api/v1`` (an undocumented route fails the suite)."""

from __future__ import annotations

import re
from pathlib import Path

from modelyard.server.api._routing import ApiRoute
from modelyard.server.app import api_routes

DOC = Path(__file__).parents[3] / "docs" / "api.md"
# A documented endpoint is a heading line such as: ### `GET /api/v1/runs/{run_id}`
_HEADING = re.compile(r"^#+ `([A-Z]+) (/api/v1/\S+)`\s*$", re.MULTILINE)


def test_every_route_is_documented_and_nothing_else() -> None:
    documented = set(_HEADING.findall(DOC.read_text(encoding="utf-8")))
    routes = {
        (r.spec.method, "/api/v1" + r.template) for r in api_routes() if isinstance(r, ApiRoute)
    }
    assert routes - documented == set(), "routes missing from docs/api.md"
    assert documented - routes == set(), "docs/api.md documents routes that do not exist"


def test_every_documented_route_has_an_example() -> None:
    text = DOC.read_text(encoding="utf-8")
    sections = _HEADING.split(text)[1:]
    for method, path, body in zip(sections[::3], sections[1::3], sections[2::3], strict=True):
        assert "```" in body, f"{method} {path} has no example request/response"
