"""A view's state as query-string parameters: read it, change one part, write the URL back.

Every view (filter, sort, columns, metric summaries, selection, chart settings) lives in the
query string, so reload, back and a pasted link show the same view. Links and forms are built
from the current parameters with a few replaced, never from state kept anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from modelyard.errors import InvalidInput

MAX_VALUE_LENGTH = 4096
MAX_LIST_ITEMS = 200


class View:
    """The query parameters of one request, as an immutable multi-map with URL building."""

    def __init__(self, path: str, params: QueryParams | Iterable[tuple[str, str]]) -> None:
        items = params.multi_items() if isinstance(params, QueryParams) else list(params)
        self.path = path
        self.items: list[tuple[str, str]] = [(k, v[:MAX_VALUE_LENGTH]) for k, v in items]

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.items:
            if key == name:
                return value
        return default

    def getlist(self, name: str) -> list[str]:
        found = [value for key, value in self.items if key == name and value]
        return found[:MAX_LIST_ITEMS]

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """Parameters named ``prefix<name>`` as ``{name: value}`` (e.g. ``agg.loss=min``)."""
        return {k[len(prefix) :]: v for k, v in self.items if k.startswith(prefix) and v}

    def url(self, drop: Iterable[str] = (), **changes: str | list[str] | None) -> str:
        """This view's URL with ``changes`` (None removes a parameter, a list repeats it)."""
        removed = set(drop) | set(changes)
        kept = [(k, v) for k, v in self.items if k not in removed]
        for name, value in changes.items():
            if value is None or value == "":
                continue
            if isinstance(value, list):
                kept.extend((name, item) for item in value)
            else:
                kept.append((name, value))
        return self.path + ("?" + urlencode(kept) if kept else "")

    def hidden(self, exclude: Iterable[str] = ()) -> list[tuple[str, str]]:
        """Parameters to repeat as hidden inputs of a GET form that sets the others."""
        skipped = set(exclude)
        return [(k, v) for k, v in self.items if k not in skipped]


def choice(view: View, name: str, choices: tuple[str, ...], default: str) -> str:
    value = view.get(name, default)
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}", field=name)
    return value


def number(view: View, name: str, default: float | None, low: float, high: float) -> float | None:
    raw = view.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a number, got {raw!r}", field=name) from None
    if not low <= value <= high:
        raise InvalidInput(f"{name} must be from {low:g} to {high:g}", field=name)
    return value


def integer(view: View, name: str) -> int | None:
    raw = view.get(name).strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}", field=name) from None
    if not -(2**63) <= value < 2**63:
        raise InvalidInput(f"{name} is out of range", field=name)
    return value
