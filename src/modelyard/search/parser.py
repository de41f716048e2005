"""A recursive-descent parser for search filters and order-by items.

Hand-written rather than generated so every error names what was expected, after what, and the
0-based position (``expected a value after '<' at position 14``). The grammar, with NOT binding
tighter than AND and AND tighter than OR::

    filter    := or_expr END
    or_expr   := and_expr ("OR" and_expr)*
    and_expr  := not_expr ("AND" not_expr)*
    not_expr  := "NOT" not_expr | "(" or_expr ")" | predicate
    predicate := field ( op literal
                       | ["NOT"] ("LIKE" | "ILIKE") literal
                       | ["NOT"] "IN" "(" literal ("," literal)* ")"
                       | "IS" ["NOT"] "NULL" )
    op        := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    field     := prefix "." key | attribute-name
    order_by  := field ["ASC" | "DESC"] END

Keywords are case-insensitive. It accepts MLflow's search grammar unchanged; OR, NOT,
parentheses, IS [NOT] NULL and NOT LIKE are extensions. Each predicate is checked against the
target (runs or model versions) as soon as it is read, so type errors carry positions too.
"""

from __future__ import annotations

from modelyard.errors import FilterSyntaxError
from modelyard.search._lexer import KEYWORDS, Kind, Token, tokenize
from modelyard.search.ast import (
    And,
    Comparison,
    Entity,
    In,
    IsNull,
    Literal,
    Node,
    Not,
    Number,
    Op,
    Or,
    OrderTerm,
)
from modelyard.search.fields import RUNS, Target, check_entity, check_predicate

PREFIXES = {
    "attribute": Entity.ATTRIBUTE,
    "attributes": Entity.ATTRIBUTE,
    "attr": Entity.ATTRIBUTE,
    "metric": Entity.METRIC,
    "metrics": Entity.METRIC,
    "param": Entity.PARAM,
    "params": Entity.PARAM,
    "parameter": Entity.PARAM,
    "parameters": Entity.PARAM,
    "tag": Entity.TAG,
    "tags": Entity.TAG,
    "dataset": Entity.DATASET,
    "datasets": Entity.DATASET,
}
_OPERATORS = {
    "=": Op.EQ,
    "!=": Op.NE,
    "<>": Op.NE,
    "<": Op.LT,
    "<=": Op.LE,
    ">": Op.GT,
    ">=": Op.GE,
}
_KEY_HINT = "a key such as metrics.loss, params.lr, tags.team or attributes.status"


def parse_filter(text: str | None, target: Target = RUNS) -> Node | None:
    """The syntax tree of ``text``; None for an empty or blank filter."""
    if text is None or not text.strip():
        return None
    return _Parser(text, target).parse_filter()


def parse_order_by(items: list[str] | None, target: Target = RUNS) -> list[OrderTerm]:
    """One :class:`OrderTerm` per item, e.g. ``["metrics.loss DESC", "params.lr"]``."""
    return [_Parser(item, target).parse_order_term() for item in items or []]


class _Parser:
    def __init__(self, text: str, target: Target) -> None:
        self.text = text
        self.target = target
        self.tokens = tokenize(text)
        self.index = 0

    # -- token helpers --------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def at(self, kind: Kind) -> bool:
        return self.tokens[self.index].kind is kind

    def at_keyword(self, *words: str) -> bool:
        token = self.current
        return token.kind is Kind.WORD and token.value.upper() in words

    def error(self, message: str, token: Token | None = None) -> FilterSyntaxError:
        token = token or self.current
        found = (
            ", found the end of the filter"
            if token.kind is Kind.END
            else f", found {token.describe()}"
        )
        position = token.position
        return FilterSyntaxError(
            f"{message}{found} at position {position}", position=position, text=self.text
        )

    # -- filters --------------------------------------------------------------------------

    def parse_filter(self) -> Node:
        node = self.or_expr()
        if self.at(Kind.RPAREN):
            raise self.error("unbalanced parenthesis")
        if not self.at(Kind.END):
            raise self.error("expected AND, OR or the end of the filter")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.at_keyword("OR"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.at_keyword("AND"):
            self.advance()
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        if self.at_keyword("NOT"):
            self.advance()
            return Not(self.not_expr())
        if self.at(Kind.LPAREN):
            opening = self.advance()
            node = self.or_expr()
            if not self.at(Kind.RPAREN):
                raise self.error(f"expected ')' to close the '(' opened at {opening.position}")
            self.advance()
            return node
        return self.predicate()

    def field(self) -> tuple[Entity, str, Token]:
        token = self.current
        if token.kind is Kind.FIELD:
            entity = PREFIXES.get(token.prefix.lower())
            if entity is None:
                raise FilterSyntaxError(
                    f"unknown entity {token.prefix!r} at position {token.position}; "
                    "use metrics., params., tags. or attributes.",
                    position=token.position,
                    text=self.text,
                )
        elif token.kind is Kind.WORD and token.value.upper() not in KEYWORDS:
            entity = Entity.ATTRIBUTE  # a bare name is an attribute, as in MLflow
        else:
            raise self.error(f"expected {_KEY_HINT}")
        self.advance()
        key = check_entity(self.target, entity, token.value, token.position, self.text)
        return entity, key, token

    def predicate(self) -> Node:
        entity, key, field = self.field()
        start = field.position
        node: Comparison | In | IsNull
        if self.at_keyword("IS"):
            self.advance()
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            if not self.at_keyword("NULL"):
                raise self.error("expected NULL or NOT NULL after IS")
            self.advance()
            node = IsNull(entity, key, negated, position=start)
        else:
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            if self.at_keyword("IN"):
                self.advance()
                values, value_position = self.literal_list()
                node = In(
                    entity, key, values, negated, position=start, value_position=value_position
                )
            elif self.at_keyword("LIKE", "ILIKE"):
                word = self.advance().value.upper()
                op = Op(f"NOT {word}" if negated else word)
                value, value_position = self.literal(after=word)
                node = Comparison(entity, key, op, value, start, value_position)
            elif negated:
                raise self.error("expected IN, LIKE or ILIKE after NOT")
            elif self.at(Kind.OP):
                symbol = self.advance().value
                value, value_position = self.literal(after=symbol)
                node = Comparison(entity, key, _OPERATORS[symbol], value, start, value_position)
            else:
                raise self.error(
                    f"expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN, IS) after "
                    f"{field.text!r}"
                )
        check_predicate(self.target, node, self.text)
        return node

    def literal(self, after: str) -> tuple[Literal, int]:
        token = self.current
        if token.kind is Kind.STRING:
            self.advance()
            return token.value, token.position
        if token.kind is Kind.NUMBER:
            self.advance()
            return Number(token.value), token.position
        raise self.error(f"expected a value after '{after}'")

    def literal_list(self) -> tuple[tuple[Literal, ...], int]:
        if not self.at(Kind.LPAREN):
            raise self.error("expected '(' after IN")
        opening = self.advance()
        values = [self.literal(after="(")[0]]
        while self.at(Kind.COMMA):
            self.advance()
            values.append(self.literal(after=",")[0])
        if not self.at(Kind.RPAREN):
            raise self.error(f"expected ',' or ')' in the IN list opened at {opening.position}")
        self.advance()
        return tuple(values), opening.position

    # -- order by -------------------------------------------------------------------------

    def parse_order_term(self) -> OrderTerm:
        if self.at(Kind.END):
            raise self.error(f"expected {_KEY_HINT} in an order-by item")
        entity, key, field = self.field()
        if entity not in self.target.order_entities:
            orderable = ", ".join(sorted(self.target.orderable))
            raise FilterSyntaxError(
                f"{self.target.name} are ordered by attributes ({orderable}), "
                f"not by a {entity} at position {field.position}",
                position=field.position,
                text=self.text,
            )
        if entity is Entity.ATTRIBUTE and key not in self.target.orderable:
            raise FilterSyntaxError(
                f"cannot order by attribute {key!r} at position {field.position}",
                position=field.position,
                text=self.text,
            )
        ascending = True
        if self.at_keyword("ASC", "DESC"):
            ascending = self.advance().value.upper() == "ASC"
        if not self.at(Kind.END):
            raise self.error("expected ASC, DESC or the end of the order-by item")
        return OrderTerm(entity, key, ascending, position=field.position)
