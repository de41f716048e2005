"""Hypothesis strategies for valid search filters and order-by items, from the field catalog.

The grammar (modelyard.search.parser) is not a regular language, so the OpenAPI document names it
with a format (``runs-filter``, ``model-versions-order-by``...) instead of a pattern. These
strategies generate only text that grammar and the catalog's type rules accept; the schemathesis
hooks register them for those formats, so its positive cases really are valid, and
``tests/search/test_filter_strategies.py`` checks that every generated item parses and compiles.
"""

from __future__ import annotations

from hypothesis import strategies as st

from modelyard.search.ast import Entity
from modelyard.search.fields import DATASET_FIELDS, MODEL_VERSIONS, RUNS, Kind, Target

_ENTITY_PREFIX = {
    Entity.METRIC: st.sampled_from(["metrics", "metric"]),
    Entity.PARAM: st.sampled_from(["params", "param", "parameters"]),
    Entity.TAG: st.sampled_from(["tags", "tag"]),
    Entity.DATASET: st.sampled_from(["datasets", "dataset"]),
}
# Keys: letters, digits and the punctuation keys allow, in backticks (so spaces and dots are fine).
_KEY = st.text(st.sampled_from("abcxyzAZ019_-. :/é"), min_size=1, max_size=12).filter(
    lambda k: not k.startswith("/") and ".." not in k.split("/") and k.strip() != ""
)
_WORDS = st.text(st.sampled_from("abcXYZ019_ -.%é"), max_size=10)
_STRING = _WORDS.map(lambda s: "'" + s + "'")
_PATTERN = st.tuples(st.sampled_from(["", "%"]), _WORDS, st.sampled_from(["", "%", "_"])).map(
    lambda p: "'" + "".join(p) + "'"
)
_NUMBER = st.one_of(
    st.integers(-(10**9), 10**9).map(str),
    st.floats(-1e9, 1e9, allow_nan=False, allow_infinity=False).map(repr),
)
_TIME = st.integers(0, 2**41).map(str)
_ID = st.uuids().map(lambda u: "'" + u.hex + "'")
_SMALL = st.integers(0, 2**31 - 1).map(str)
_ORDERING = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_EQUALITY = st.sampled_from(["=", "!=", "<>"])
_LIKE = st.sampled_from(["LIKE", "ILIKE", "NOT LIKE", "not ilike"])


def _in_list(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(values, min_size=1, max_size=3).map(lambda v: "(" + ", ".join(v) + ")")


def _string_predicate(field: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(_EQUALITY, _STRING).map(lambda t: f"{field} {t[0]} {t[1]}"),
        st.tuples(_LIKE, _PATTERN).map(lambda t: f"{field} {t[0]} {t[1]}"),
        _in_list(_STRING).map(lambda v: f"{field} IN {v}"),
        st.sampled_from([f"{field} IS NULL", f"{field} IS NOT NULL"]),
    )


def _attribute_predicate(target: Target) -> st.SearchStrategy[str]:
    def for_name(name: str) -> st.SearchStrategy[str]:
        kind = target.attributes[name]
        field = st.sampled_from([name, f"attributes.{name}", f"attr.{name}"])
        if kind is Kind.STRING:
            return field.flatmap(_string_predicate)
        if kind is Kind.ID:
            return st.one_of(
                st.tuples(field, _EQUALITY, _ID).map(" ".join),
                st.tuples(field, _in_list(_ID)).map(lambda t: f"{t[0]} IN {t[1]}"),
            )
        numbers = _TIME if kind is Kind.TIME else _SMALL
        return st.tuples(field, _ORDERING, numbers).map(" ".join)

    return st.sampled_from(sorted(target.attributes)).flatmap(for_name)


def _keyed(entity: Entity) -> st.SearchStrategy[str]:
    return st.tuples(_ENTITY_PREFIX[entity], _KEY).map(lambda t: f"{t[0]}.`{t[1]}`")


def _predicate(target: Target) -> st.SearchStrategy[str]:
    options = [_attribute_predicate(target)]
    if Entity.METRIC in target.entities:
        options.append(st.tuples(_keyed(Entity.METRIC), _ORDERING, _NUMBER).map(" ".join))
    for entity in (Entity.PARAM, Entity.TAG):
        if entity in target.entities:
            options.append(_keyed(entity).flatmap(_string_predicate))
            options.append(st.tuples(_keyed(entity), _ORDERING, _NUMBER).map(" ".join))
    if Entity.DATASET in target.entities:
        field = st.tuples(_ENTITY_PREFIX[Entity.DATASET], st.sampled_from(sorted(DATASET_FIELDS)))
        options.append(st.tuples(field.map(".".join), _EQUALITY, _STRING).map(" ".join))
    return st.one_of(options)


def filters(target: Target) -> st.SearchStrategy[str]:
    """Valid filters for ``target``: predicates under AND, OR, NOT and parentheses."""
    return st.recursive(
        _predicate(target),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(["AND", "and", "OR"]), inner).map(" ".join),
            inner.map(lambda f: f"NOT ({f})"),
            inner.map(lambda f: f"({f})"),
        ),
        max_leaves=4,
    )


def order_by_items(target: Target) -> st.SearchStrategy[str]:
    """Valid order-by items for ``target``: an orderable field, ASC or DESC or nothing."""
    fields = [
        st.sampled_from(sorted(target.orderable)).flatmap(
            lambda name: st.sampled_from([name, f"attributes.{name}"])
        )
    ]
    fields += [
        _keyed(e) for e in (Entity.METRIC, Entity.PARAM, Entity.TAG) if e in target.order_entities
    ]
    direction = st.sampled_from(["", " ASC", " DESC", " desc"])
    return st.tuples(st.one_of(fields), direction).map("".join)


# The formats the OpenAPI document uses, and what generates each (schemathesis_hooks registers
# them). The keys are the one definition the schemas take their format names from.
FORMATS = {
    "runs-filter": filters(RUNS),
    "model-versions-filter": filters(MODEL_VERSIONS),
    "runs-order-by": order_by_items(RUNS),
    "model-versions-order-by": order_by_items(MODEL_VERSIONS),
}
