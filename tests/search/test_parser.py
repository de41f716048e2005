"""The filter and order-by parser: accepted forms, precedence, and errors with positions."""

from __future__ import annotations

import pytest

from modelyard.errors import FilterSyntaxError
from modelyard.search.ast import (
    And,
    Comparison,
    Entity,
    In,
    IsNull,
    Node,
    Not,
    Number,
    Op,
    Or,
    OrderTerm,
)
from modelyard.search.fields import EXPERIMENTS, MODEL_VERSIONS, REGISTERED_MODELS, Target
from modelyard.search.parser import parse_filter, parse_order_by

M, P, T, A = Entity.METRIC, Entity.PARAM, Entity.TAG, Entity.ATTRIBUTE


def c(entity: Entity, key: str, op: str, value: str | Number) -> Comparison:
    return Comparison(entity, key, Op(op), value)


LOSS = c(M, "loss", "<", Number("0.5"))
LR = c(P, "lr", "=", "0.01")
TEAM = c(T, "team", "LIKE", "vision%")

ACCEPTED: list[tuple[str, Node]] = [
    ("metrics.loss < 0.5", LOSS),
    ("metric.loss<0.5", LOSS),
    ("  metrics.loss   <   0.5  ", LOSS),
    (
        "metrics.loss < 0.5 and params.lr = '0.01' and tags.team LIKE 'vision%'",
        And((LOSS, LR, TEAM)),
    ),
    (
        "metrics.loss < 0.5 AND param.lr = \"0.01\" AnD tag.team like 'vision%'",
        And((LOSS, LR, TEAM)),
    ),
    ("attributes.status = 'FINISHED'", c(A, "status", "=", "FINISHED")),
    ("attribute.status != 'FINISHED'", c(A, "status", "!=", "FINISHED")),
    ("status <> 'FINISHED'", c(A, "status", "!=", "FINISHED")),
    ("attributes.run_name = 'x'", c(A, "run_name", "=", "x")),
    ("run_name = 'x'", c(A, "run_name", "=", "x")),
    ("attributes.`run name` = 'x'", c(A, "run_name", "=", "x")),
    ("attributes.start_time > 1700000000000", c(A, "start_time", ">", Number("1700000000000"))),
    ("attributes.created >= 1", c(A, "start_time", ">=", Number("1"))),
    ("attributes.run_id IN ('a','b')", In(A, "run_id", ("a", "b"))),
    ("attributes.run_id NOT IN ('a')", In(A, "run_id", ("a",), negated=True)),
    ('metrics."my metric" > 1', c(M, "my metric", ">", Number("1"))),
    ("params.`lr rate` = 'x'", c(P, "lr rate", "=", "x")),
    ("params.`a``b` = 'x'", c(P, "a`b", "=", "x")),
    ("metrics.train.loss <= -1.5e-3", c(M, "train.loss", "<=", Number("-1.5e-3"))),
    ("metrics.val-loss >= .5", c(M, "val-loss", ">=", Number(".5"))),
    ("tags.mlflow.runName = 'x'", c(T, "mlflow.runName", "=", "x")),
    ("tags.a/b:c = 'x'", c(T, "a/b:c", "=", "x")),
    ("params.x = 'it''s'", c(P, "x", "=", "it's")),
    ('params.x = "say ""hi"""', c(P, "x", "=", 'say "hi"')),
    ("params.x = ''", c(P, "x", "=", "")),
    ("params.x ILIKE '%A%'", c(P, "x", "ILIKE", "%A%")),
    ("params.x NOT LIKE 'a%'", c(P, "x", "NOT LIKE", "a%")),
    ("params.x not ilike 'a%'", c(P, "x", "NOT ILIKE", "a%")),
    ("params.lr > 0.001", c(P, "lr", ">", Number("0.001"))),
    ("params.n IN (1, 2)", In(P, "n", (Number("1"), Number("2")))),
    ("params.lr IS NULL", IsNull(P, "lr")),
    ("metrics.loss is not null", IsNull(M, "loss", negated=True)),
    ("attributes.end_time IS NULL", IsNull(A, "end_time")),
    # precedence: NOT > AND > OR
    (
        "metrics.loss < 0.5 OR params.lr = '0.01' AND tags.team LIKE 'vision%'",
        Or((LOSS, And((LR, TEAM)))),
    ),
    (
        "(metrics.loss < 0.5 OR params.lr = '0.01') AND tags.team LIKE 'vision%'",
        And((Or((LOSS, LR)), TEAM)),
    ),
    ("NOT metrics.loss < 0.5 AND params.lr = '0.01'", And((Not(LOSS), LR))),
    ("NOT (metrics.loss < 0.5 AND params.lr = '0.01')", Not(And((LOSS, LR)))),
    ("not not metrics.loss < 0.5", Not(Not(LOSS))),
    ("((metrics.loss < 0.5))", LOSS),
    ("metrics.loss < 0.5 OR params.lr = '0.01' OR tags.team LIKE 'vision%'", Or((LOSS, LR, TEAM))),
]


@pytest.mark.parametrize(("text", "tree"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted(text: str, tree: Node) -> None:
    assert parse_filter(text) == tree


@pytest.mark.parametrize("text", [None, "", "   \n\t"])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None


REJECTED: list[tuple[str, int, str]] = [
    ("metrics.loss < ", 15, "expected a value after '<'"),
    ("metrics.loss <", 14, "expected a value after '<'"),
    ("metrics.loss < 0.5 and", 22, "expected a key"),
    ("metrics.loss 0.5", 13, "expected an operator"),
    ("metrics.loss", 12, "expected an operator"),
    ("(metrics.loss < 0.5", 19, "expected ')'"),
    ("metrics.loss < 0.5)", 18, "unbalanced parenthesis"),
    ("metrics.loss < 0.5 metrics.acc > 1", 19, "expected AND, OR"),
    ("params.x = 'abc", 11, "unterminated string"),
    ("params.`abc = 'x'", 7, "unterminated quoted key"),
    ("params.x = 'a'; DROP TABLE run", 14, "unexpected character ';'"),
    ("params.x == 'a'", 10, "expected a value after '='"),
    ("params.x = 12abc", 11, "invalid number"),
    ("params.x IN ()", 13, "expected a value after '('"),
    ("params.x IN 'a'", 12, "expected '(' after IN"),
    ("params.x IN ('a' 'b')", 17, "expected ',' or ')'"),
    ("params.x IS 'a'", 12, "expected NULL or NOT NULL"),
    ("params.x NOT = 'a'", 13, "expected IN, LIKE or ILIKE after NOT"),
    ("foo.bar = 1", 0, "unknown entity 'foo'"),
    ("attributes.nope = 'x'", 0, "unknown attribute 'nope'"),
    ("datasets.size = 'x'", 0, "unknown dataset field 'size'"),
    ("datasets.name > 'x'", 0, "'>' is not supported for datasets.name"),
    ("datasets.digest = 5", 18, "compares with quoted strings"),
    ("metrics.loss LIKE 'a%'", 0, "LIKE applies to strings"),
    ("metrics.loss = 'a'", 15, "compares with numbers"),
    ("metrics.loss IN (1, 2)", 0, "IN is not supported"),
    ("params.lr < '0.1'", 12, "'<' needs a number"),
    ("params.x LIKE 5", 14, "needs a quoted pattern"),
    ("params.x IN ('a', 1)", 12, "mixes numbers and strings"),
    ("attributes.run_name = 5", 22, "compares with quoted strings"),
    ("attributes.run_name > 'a'", 0, "'>' is not supported"),
    ("attributes.start_time > 'yesterday'", 24, "compares with numbers"),
    ("attributes.run_id LIKE 'a%'", 0, "LIKE applies to strings"),
    ("attributes.run_id > 'a'", 0, "'>' is not supported"),
    ("AND metrics.loss < 1", 0, "expected a key"),
    ("`x` = 1", 0, "backquoted key needs a prefix"),
    ("metrics. < 1", 8, "expected a key after 'metrics.'"),
    ("params.x = 'a' -- comment", 15, "unexpected character '-'"),
    ("NOT", 3, "expected a key"),
]


@pytest.mark.parametrize(("text", "position", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_with_position(text: str, position: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text)
    error = caught.value
    assert error.position == position
    assert message in error.message
    assert error.message.endswith(f"position {position}") or f"position {position};" in (
        error.message
    )
    assert error.details == {"position": position, "text": text}


def test_error_message_reads_well() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter("metrics.loss < ")
    assert caught.value.message == (
        "expected a value after '<', found the end of the filter at position 15"
    )


def test_model_version_target() -> None:
    tree = parse_filter("name LIKE 'a%' AND version > 2 AND tags.t = 'x'", MODEL_VERSIONS)
    assert tree == And(
        (
            c(A, "name", "LIKE", "a%"),
            c(A, "version_number", ">", Number("2")),
            c(T, "t", "=", "x"),
        )
    )
    with pytest.raises(FilterSyntaxError, match="have no metrics"):
        parse_filter("metrics.loss < 1", MODEL_VERSIONS)
    with pytest.raises(FilterSyntaxError, match="model versions have no datasets"):
        parse_filter("datasets.name = 'x'", MODEL_VERSIONS)


def test_positions_are_recorded_but_not_compared() -> None:
    tree = parse_filter("  params.x = 'a'")
    assert isinstance(tree, Comparison)
    assert (tree.position, tree.value_position) == (2, 13)
    assert tree == parse_filter("params.x='a'")


ORDER_ACCEPTED = [
    ("metrics.loss DESC", OrderTerm(M, "loss", ascending=False)),
    ("metrics.loss", OrderTerm(M, "loss")),
    ("params.lr", OrderTerm(P, "lr")),
    ("attributes.start_time ASC", OrderTerm(A, "start_time")),
    ("tags.x desc", OrderTerm(T, "x", ascending=False)),
    ("metrics.`my metric` asc", OrderTerm(M, "my metric")),
    ("run_name", OrderTerm(A, "run_name")),
]


@pytest.mark.parametrize(("item", "term"), ORDER_ACCEPTED, ids=[o[0] for o in ORDER_ACCEPTED])
def test_order_by_accepted(item: str, term: OrderTerm) -> None:
    assert parse_order_by([item]) == [term]


def test_order_by_keeps_item_order() -> None:
    assert parse_order_by(["metrics.a DESC", "params.b"]) == [
        OrderTerm(M, "a", ascending=False),
        OrderTerm(P, "b"),
    ]
    assert parse_order_by(None) == []


@pytest.mark.parametrize(
    ("item", "position"),
    [
        ("", 0),
        ("metrics.loss DOWN", 13),
        ("metrics.loss DESC ASC", 18),
        ("attributes.lifecycle_stage", 0),
        ("foo.loss", 0),
        ("metrics.loss; DROP TABLE run", 12),
    ],
)
def test_order_by_rejected(item: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_order_by([item])
    assert caught.value.position == position


@pytest.mark.parametrize(
    "target", [EXPERIMENTS, MODEL_VERSIONS, REGISTERED_MODELS], ids=lambda t: t.name
)
def test_only_runs_are_ordered_by_tags(target: Target) -> None:
    """The catalog says which entities order a target; a tag term elsewhere is an input error."""
    with pytest.raises(FilterSyntaxError) as caught:
        parse_order_by(["name ASC", "tags.team DESC"], target)
    assert caught.value.position == 0
    assert caught.value.details["text"] == "tags.team DESC"
    assert f"{target.name} are ordered by attributes" in str(caught.value)
    assert "not by a tag" in str(caught.value)
