"""Splits a filter or order-by text into tokens, each with its 0-based position.

A key is lexed as one FIELD token: ``metrics.loss``, ``params."lr rate"``, ``tags.`a b```,
``metrics.train.loss`` (everything after the first dot is the key, as in MLflow) or a bare word
(``run_name``, ``status``), which names an attribute. Strings take single or double quotes; the
quote is escaped by doubling it (``'it''s'``). Anything else — ``;``, ``--``, a stray quote —
is an error at its position, so no text ever reaches SQL except as a bound value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from modelyard.errors import FilterSyntaxError


class Kind(Enum):
    WORD = "word"  # a bare word: keyword (AND, LIKE...) or attribute name
    FIELD = "field"  # prefix.key
    STRING = "string"
    NUMBER = "number"
    OP = "operator"
    LPAREN = "'('"
    RPAREN = "')'"
    COMMA = "','"
    END = "end of filter"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str  # as written, for messages
    position: int
    value: str = ""  # the unquoted string, the number text, the key of a FIELD
    prefix: str = ""  # the entity prefix of a FIELD ("metrics")

    def describe(self) -> str:
        return "end of filter" if self.kind is Kind.END else repr(self.text)


KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Unquoted keys may hold the characters MLflow keys use besides letters and digits.
_BARE_KEY = re.compile(r"[\w.\-/:]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATOR = re.compile(r"!=|<>|<=|>=|=|<|>")
_PUNCT = {"(": Kind.LPAREN, ")": Kind.RPAREN, ",": Kind.COMMA}


def _error(message: str, position: int, text: str) -> FilterSyntaxError:
    return FilterSyntaxError(f"{message} at position {position}", position=position, text=text)


def _quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """The content of the quoted run starting at ``start`` and the index just past it."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while True:
        end = text.find(quote, i)
        if end < 0:
            raise _error(f"unterminated {what} starting", start, text)
        parts.append(text[i:end])
        if text.startswith(quote * 2, end):  # a doubled quote stands for one quote
            parts.append(quote)
            i = end + 2
            continue
        return "".join(parts), end + 1


def _field_or_word(text: str, start: int) -> tuple[Token, int]:
    word = _WORD.match(text, start)
    assert word is not None
    end = word.end()
    if end >= len(text) or text[end] != ".":
        return Token(Kind.WORD, word.group(), start, value=word.group()), end
    key_start = end + 1
    if key_start < len(text) and text[key_start] in '"`':
        key, stop = _quoted(text, key_start, "quoted key")
    else:
        bare = _BARE_KEY.match(text, key_start)
        if bare is None:
            raise _error(f"expected a key after '{word.group()}.'", key_start, text)
        key, stop = bare.group(), bare.end()
    if not key:
        raise _error("empty key", key_start, text)
    return Token(Kind.FIELD, text[start:stop], start, value=key, prefix=word.group()), stop


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` followed by one END token."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        space = _SPACE.match(text, i)
        if space:
            i = space.end()
            continue
        char = text[i]
        if char in _PUNCT:
            tokens.append(Token(_PUNCT[char], char, i))
            i += 1
        elif char in "'\"":
            value, stop = _quoted(text, i, "string")
            tokens.append(Token(Kind.STRING, text[i:stop], i, value=value))
            i = stop
        elif char == "`":
            raise _error("a backquoted key needs a prefix such as params.`my key`", i, text)
        elif (number := _NUMBER.match(text, i)) is not None:
            stop = number.end()
            if stop < len(text) and (text[stop].isalnum() or text[stop] in "_."):
                raise _error(f"invalid number {text[i : stop + 1]!r}", i, text)
            tokens.append(Token(Kind.NUMBER, number.group(), i, value=number.group()))
            i = stop
        elif _WORD.match(text, i):
            token, i = _field_or_word(text, i)
            tokens.append(token)
        elif (operator := _OPERATOR.match(text, i)) is not None:
            tokens.append(Token(Kind.OP, operator.group(), i, value=operator.group()))
            i = operator.end()
        else:
            raise _error(f"unexpected character {char!r}", i, text)
    tokens.append(Token(Kind.END, "", len(text)))
    return tokens
