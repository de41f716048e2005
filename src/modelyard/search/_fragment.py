"""A piece of SQL with its bound values, composed so placeholders and values stay in step.

Every user value becomes a ``%s`` placeholder; the value goes into ``params`` in the same order.
Templates are our own literal SQL with ``{}`` holes, filled left to right.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import LiteralString

from psycopg import sql


@dataclass(frozen=True)
class Fragment:
    """SQL text (a :class:`psycopg.sql.Composable`) and the values of its placeholders, in order."""

    sql: sql.SQL | sql.Composed
    params: tuple[object, ...] = ()


class Bind:
    """A value to bind: becomes ``%s`` in the SQL and one entry in the params."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


Part = Fragment | Bind


def compose(template: LiteralString, *parts: Part) -> Fragment:
    """Fill the ``{}`` holes of ``template`` left to right with fragments and bound values."""
    pieces: list[sql.Composable] = []
    params: list[object] = []
    for part in parts:
        if isinstance(part, Bind):
            pieces.append(sql.Placeholder())
            params.append(part.value)
        else:
            pieces.append(part.sql)
            params.extend(part.params)
    return Fragment(sql.SQL(template).format(*pieces), tuple(params))


def raw(template: LiteralString) -> Fragment:
    """Fixed SQL of our own, no values."""
    return Fragment(sql.SQL(template))


def join(separator: LiteralString, fragments: Iterable[Fragment]) -> Fragment:
    items = list(fragments)
    params: list[object] = []
    for item in items:
        params.extend(item.params)
    return Fragment(sql.SQL(separator).join(item.sql for item in items), tuple(params))


TRUE = raw("TRUE")
FALSE = raw("FALSE")
