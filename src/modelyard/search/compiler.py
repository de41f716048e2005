"""Compiles a filter's syntax tree into a parameterised SQL condition: runs, versions, experiments.

The output is a :class:`Fragment`: a ``psycopg.sql`` composition in which every value the user
wrote — keys included — is a ``%s`` placeholder, and the values in order. Semantics, as MLflow:

* A comparison on a missing metric, param or tag is false, ``!=`` included; ``IS NULL`` tests for
  the missing key. ``NOT`` is plain logical negation, so ``NOT params.x = 'a'`` does match runs
  without ``x``.
* Metrics compare by their latest value (``metric_series.last_value``). A NaN latest value never
  satisfies a comparison (PostgreSQL would call NaN larger than every number; the guard
  ``last_value < 'NaN'`` excludes it and doubles as an index range bound).
* A param or tag compared with a number compares numerically; a value that is not a number does not
  match. The cast is guarded by a regular expression and a length bound, so no value can make the
  query fail, and is to ``numeric`` so ``params.lr = 0.01`` matches ``'0.010'`` and ``'1e-2'``.
* Run ids that are not valid UUIDs never match (no error, as in MLflow).
"""

from __future__ import annotations

import abc
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import ClassVar, LiteralString

from modelyard.search._fragment import FALSE, TRUE, Bind, Fragment, compose, join, raw
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
)
from modelyard.search.fields import (
    EXPERIMENTS,
    LOGGED_MODELS,
    MODEL_VERSIONS,
    REGISTERED_MODELS,
    RUNS,
    Kind,
    Target,
)

RUN_NAME_TAG = "mlflow.runName"

_SQL_OPS: dict[Op, LiteralString] = {
    Op.EQ: "=",
    Op.NE: "<>",
    Op.LT: "<",
    Op.LE: "<=",
    Op.GT: ">",
    Op.GE: ">=",
    Op.LIKE: "LIKE",
    Op.ILIKE: "ILIKE",
    Op.NOT_LIKE: "NOT LIKE",
    Op.NOT_ILIKE: "NOT ILIKE",
}

# The text of a number PostgreSQL's numeric input accepts; exponents stay within its +/-1000 limit
# and the length bound keeps the digits within its precision, so the cast cannot raise.
_NUMERIC_VALUE: LiteralString = (
    "(CASE WHEN char_length({}) <= 1000 "
    "AND {} ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{{1,3}})?$' "
    "THEN {}::numeric END)"
)


def numeric_of(value: Fragment) -> Fragment:
    """``value`` (a text column) as numeric, or NULL when it is not a number."""
    return compose(_NUMERIC_VALUE, value, value, value)


_LIKE_SPECIALS = ("%", "_", "\\")


def text_condition(column: Fragment, op: Op, value: str) -> Fragment:
    """``column op value`` for a text column and a string.

    A case-sensitive pattern that is a plain prefix (``'vision%'``) becomes ``^@``
    (``starts_with``), and one without a wildcard becomes ``=``: the same rows, but those
    operators are leakproof and LIKE is not. Under row-level security PostgreSQL estimates a
    condition whose operator is not leakproof without the column's statistics (a LIKE is then
    guessed to keep 0.5% of the rows, whatever the pattern), and a search of a common prefix
    chose a plan 30-500 times slower than the one it gets with the statistics.
    """
    if op in (Op.LIKE, Op.NOT_LIKE):
        body = value[:-1] if value.endswith("%") else value
        if not any(special in body for special in _LIKE_SPECIALS):
            prefix = value.endswith("%")
            template: LiteralString = "({} ^@ {})" if prefix else "({} = {})"
            condition = compose(template, column, Bind(body))
            return compose("(NOT {})", condition) if op is Op.NOT_LIKE else condition
    return compose("({} " + _SQL_OPS[op] + " {})", column, Bind(value))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ms_to_datetime(number: Number) -> datetime:
    """Milliseconds since the epoch as a timestamp, clamped to the representable range."""
    try:
        return _EPOCH + timedelta(milliseconds=float(number))
    except OverflowError:
        return (
            datetime.max.replace(tzinfo=UTC)
            if float(number) > 0
            else datetime.min.replace(tzinfo=UTC)
        )


def _textual(node: Comparison | In | IsNull) -> bool:
    """True unless ``node`` compares with a number (which a text column cannot take)."""
    if isinstance(node, In):
        return not any(isinstance(v, Number) for v in node.values)
    return isinstance(node, IsNull) or not isinstance(node.value, Number)


def _uuid_or_none(value: Literal) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class FilterCompiler(abc.ABC):
    """Shared logic: boolean structure, attributes by kind, key/value sub-queries."""

    target: ClassVar[Target] = RUNS
    # attribute -> SQL column expression (our own text)
    columns: ClassVar[dict[str, LiteralString]] = {}

    def compile(self, node: Node | None) -> Fragment:
        if node is None:
            return TRUE
        if isinstance(node, And):
            return compose("({})", join(" AND ", (self.compile(i) for i in node.items)))
        if isinstance(node, Or):
            return compose("({})", join(" OR ", (self.compile(i) for i in node.items)))
        if isinstance(node, Not):
            return compose("(NOT {})", self.compile(node.item))
        if node.entity is Entity.ATTRIBUTE:
            return self.attribute(node)
        return self.keyed(node)

    @abc.abstractmethod
    def keyed(self, node: Comparison | In | IsNull) -> Fragment:
        """A condition on a keyed entity (metric, param, tag): each target defines its own."""

    # -- attributes -----------------------------------------------------------------------

    def attribute(self, node: Comparison | In | IsNull) -> Fragment:
        column = raw(self.columns[node.key])
        if isinstance(node, IsNull):
            return compose("({} IS NOT NULL)" if node.negated else "({} IS NULL)", column)
        kind = self.target.attributes[node.key]
        if kind is Kind.ID:
            return self._id_condition(column, node)
        if isinstance(node, In):
            values = [self._attribute_value(kind, v) for v in node.values]
            template: LiteralString = "({} <> ALL({}))" if node.negated else "({} = ANY({}))"
            return compose(template, column, Bind(values))
        if isinstance(node.value, str):
            return text_condition(column, node.op, node.value)
        return compose(
            "({} " + _SQL_OPS[node.op] + " {})",
            column,
            Bind(self._attribute_value(kind, node.value)),
        )

    @staticmethod
    def _attribute_value(kind: Kind, value: Literal) -> object:
        if isinstance(value, Number):
            return ms_to_datetime(value) if kind is Kind.TIME else value.decimal
        return value

    @staticmethod
    def _id_condition(column: Fragment, node: Comparison | In) -> Fragment:
        values = node.values if isinstance(node, In) else (node.value,)
        ids = [i for i in (_uuid_or_none(v) for v in values) if i is not None]
        negated = node.negated if isinstance(node, In) else node.op is Op.NE
        if not ids:
            return compose("({} IS NOT NULL)", column) if negated else FALSE
        if negated:
            return compose("({} <> ALL({}))", column, Bind(ids))
        return compose("({} = ANY({}))", column, Bind(ids))

    # -- string values that may be compared as numbers (params, tags) -----------------------

    @staticmethod
    def value_condition(value: Fragment, node: Comparison | In) -> Fragment:
        """The condition on a text ``value`` column (a param or tag value)."""
        if isinstance(node, In):
            if isinstance(node.values[0], Number):
                numeric = numeric_of(value)
                decimals = [v.decimal for v in node.values if isinstance(v, Number)]
                template: LiteralString = "{} <> ALL({})" if node.negated else "{} = ANY({})"
                return compose(template, numeric, Bind(decimals))
            template = "{} <> ALL({})" if node.negated else "{} = ANY({})"
            return compose(template, value, Bind(list(node.values)))
        op = _SQL_OPS[node.op]
        if isinstance(node.value, Number):
            numeric = numeric_of(value)
            return compose("{} " + op + " {}", numeric, Bind(node.value.decimal))
        return text_condition(value, node.op, node.value)


class RunFilterCompiler(FilterCompiler):
    """Filters on ``run r`` and its params (``run_param``), tags (``run_tag``) and metrics.

    ``known_metric`` names a metric already joined as ``alias`` (the search joins the metric it
    orders by), so conditions on it read the joined row instead of probing again, and can become
    index range conditions. ``missing_metric`` names a metric known to be absent.
    """

    target = RUNS
    columns: ClassVar[dict[str, LiteralString]] = {
        "run_id": "r.run_id",
        "run_name": "r.name",
        "status": "r.status",
        "user_id": "r.user_id",
        "artifact_uri": "r.artifact_uri",
        "lifecycle_stage": "r.lifecycle_stage",
        "start_time": "r.start_time",
        "end_time": "r.end_time",
        "parent_run_id": "r.parent_run_id",
        "experiment_id": "r.experiment_id",
    }

    def __init__(
        self,
        *,
        known_metric: tuple[str, LiteralString] | None = None,
        missing_metric: str | None = None,
    ) -> None:
        self.known_metric = known_metric
        self.missing_metric = missing_metric

    def keyed(self, node: Comparison | In | IsNull) -> Fragment:
        if node.entity is Entity.METRIC:
            return self.metric(node)
        if node.entity is Entity.DATASET:
            return self.dataset(node)
        if node.entity is Entity.TAG and node.key == RUN_NAME_TAG and _textual(node):
            # The name lives in its column; MLflow shows (and filters) it as this tag too.
            return self.attribute(replace(node, entity=Entity.ATTRIBUTE, key="run_name"))
        if node.entity is Entity.PARAM:
            table: LiteralString = "run_param"
        else:
            table = "run_tag"
        if isinstance(node, IsNull):
            template: LiteralString = (
                "EXISTS (SELECT 1 FROM " + table + " kv WHERE kv.run_id = r.run_id AND kv.key = {})"
            )
            return compose(template if node.negated else "NOT " + template, Bind(node.key))
        return compose(
            "EXISTS (SELECT 1 FROM " + table + " kv WHERE kv.run_id = r.run_id AND kv.key = {} "
            "AND {})",
            Bind(node.key),
            self.value_condition(raw("kv.value"), node),
        )

    def metric(self, node: Comparison | In | IsNull) -> Fragment:
        assert not isinstance(node, In)  # rejected by the parser
        if self.missing_metric == node.key:
            return TRUE if isinstance(node, IsNull) and not node.negated else FALSE
        if self.known_metric is not None and self.known_metric[0] == node.key:
            if isinstance(node, IsNull):
                return TRUE if node.negated else FALSE
            return self.metric_condition(raw(self.known_metric[1]), node)
        if isinstance(node, IsNull):
            template: LiteralString = (
                "EXISTS (SELECT 1 FROM metric_series ms WHERE ms.run_id = r.run_id AND ms.key = {})"
            )
            return compose(template if node.negated else "NOT " + template, Bind(node.key))
        return compose(
            "EXISTS (SELECT 1 FROM metric_series ms WHERE ms.run_id = r.run_id AND ms.key = {} "
            "AND {})",
            Bind(node.key),
            self.metric_condition(raw("ms"), node),
        )

    # A run's input datasets: what ``datasets.name``, ``.digest`` and ``.context`` compare.
    _DATASET_COLUMNS: ClassVar[dict[str, LiteralString]] = {
        "name": "d.name",
        "digest": "dv.digest",
        "context": "ri.context",
    }

    def dataset(self, node: Comparison | In | IsNull) -> Fragment:
        """True when one of the run's input datasets matches (false for a run without any)."""
        exists: LiteralString = (
            "EXISTS (SELECT 1 FROM run_input ri "
            "JOIN dataset_version dv ON dv.dataset_version_id = ri.dataset_version_id "
            "JOIN dataset d ON d.dataset_id = dv.dataset_id WHERE ri.run_id = r.run_id"
        )
        if isinstance(node, IsNull):
            template: LiteralString = exists + ")"
            return compose(template if node.negated else "NOT " + template)
        column = raw(self._DATASET_COLUMNS[node.key])
        return compose(exists + " AND {})", self.value_condition(column, node))

    @staticmethod
    def metric_condition(alias: Fragment, node: Comparison) -> Fragment:
        op = _SQL_OPS[node.op]
        value = Bind(float(node.value))  # the parser allows only numbers here
        if node.op in (Op.LT, Op.LE, Op.EQ):
            # NaN is never below a number in PostgreSQL, and the literal is never NaN.
            return compose("{}.last_value " + op + " {}", alias, value)
        return compose(
            "({}.last_value " + op + " {} AND {}.last_value < 'NaN'::float8)", alias, value, alias
        )


class ModelVersionFilterCompiler(FilterCompiler):
    """Filters on ``model_version v`` joined to ``registered_model rm``, and version tags."""

    target = MODEL_VERSIONS
    columns: ClassVar[dict[str, LiteralString]] = {
        "name": "rm.name",
        "version_number": "v.version",
        "run_id": "v.run_id",
        "source_path": "v.source",
        "status": "v.status",
        "current_stage": "v.stage",
        "user_id": "v.user_id",
        "creation_timestamp": "v.created_at",
        "last_updated_timestamp": "v.updated_at",
    }

    def keyed(self, node: Comparison | In | IsNull) -> Fragment:
        assert node.entity is Entity.TAG  # the only keyed entity of model versions
        exists: LiteralString = (
            "EXISTS (SELECT 1 FROM model_version_tag kv WHERE kv.model_id = v.model_id "
            "AND kv.version = v.version AND kv.key = {}"
        )
        if isinstance(node, IsNull):
            template: LiteralString = exists + ")"
            return compose(template if node.negated else "NOT " + template, Bind(node.key))
        return compose(
            exists + " AND {})", Bind(node.key), self.value_condition(raw("kv.value"), node)
        )


class RegisteredModelFilterCompiler(FilterCompiler):
    """Filters on ``registered_model rm`` and its tags."""

    target = REGISTERED_MODELS
    columns: ClassVar[dict[str, LiteralString]] = {
        "name": "rm.name",
        "creation_timestamp": "rm.created_at",
        "last_updated_timestamp": "rm.updated_at",
    }

    def keyed(self, node: Comparison | In | IsNull) -> Fragment:
        assert node.entity is Entity.TAG  # the only keyed entity of registered models
        exists: LiteralString = (
            "EXISTS (SELECT 1 FROM registered_model_tag kv WHERE kv.model_id = rm.model_id "
            "AND kv.key = {}"
        )
        if isinstance(node, Comparison) and node.op is Op.NE and isinstance(node.value, str):
            # MLflow's registry (unlike its run search) counts a missing tag as unequal: the
            # client hides prompts from every model search with tags.`...is_prompt` != 'true'.
            return compose(
                "NOT " + exists + " AND kv.value = {})", Bind(node.key), Bind(node.value)
            )
        if isinstance(node, IsNull):
            template: LiteralString = exists + ")"
            return compose(template if node.negated else "NOT " + template, Bind(node.key))
        return compose(
            exists + " AND {})", Bind(node.key), self.value_condition(raw("kv.value"), node)
        )


class LoggedModelFilterCompiler(FilterCompiler):
    """Filters on ``logged_model lm``, its params, its tags and its metric points.

    A metric condition holds when any point of that metric (``logged_model_metric m``) meets it,
    as in MLflow, and, given ``datasets`` (a condition on ``m``), a point on one of them.
    """

    target = LOGGED_MODELS
    columns: ClassVar[dict[str, LiteralString]] = {
        "name": "lm.name",
        "model_id": "lm.model_id",
        "model_type": "lm.model_type",
        "status": "lm.status",
        "source_run_id": "lm.source_run_id",
        "creation_timestamp": "lm.created_at",
        "last_updated_timestamp": "lm.updated_at",
    }

    def __init__(self, datasets: Fragment | None = None) -> None:
        self.datasets = datasets if datasets is not None else TRUE

    def keyed(self, node: Comparison | In | IsNull) -> Fragment:
        if node.entity is Entity.METRIC:
            return self.metric(node)
        table: LiteralString = (
            "logged_model_param" if node.entity is Entity.PARAM else "logged_model_tag"
        )
        exists: LiteralString = (
            "EXISTS (SELECT 1 FROM " + table + " kv WHERE kv.model_id = lm.model_id AND kv.key = {}"
        )
        if isinstance(node, IsNull):
            template: LiteralString = exists + ")"
            return compose(template if node.negated else "NOT " + template, Bind(node.key))
        return compose(
            exists + " AND {})", Bind(node.key), self.value_condition(raw("kv.value"), node)
        )

    def metric(self, node: Comparison | In | IsNull) -> Fragment:
        assert not isinstance(node, In)  # rejected by the parser
        exists: LiteralString = (
            "EXISTS (SELECT 1 FROM logged_model_metric m WHERE m.model_id = lm.model_id "
            "AND m.key = {} AND {}"
        )
        if isinstance(node, IsNull):
            template: LiteralString = exists + ")"
            return compose(
                template if node.negated else "NOT " + template, Bind(node.key), self.datasets
            )
        op = _SQL_OPS[node.op]
        value = Bind(float(node.value))  # the parser allows only numbers here
        # NaN is above every number in PostgreSQL's order; it never meets a comparison.
        return compose(
            exists + " AND m.value " + op + " {} AND m.value < 'NaN'::float8)",
            Bind(node.key),
            self.datasets,
            value,
        )


def mentions_metric(node: Node | None) -> bool:
    """True when the filter has a condition on a metric."""
    if node is None:
        return False
    if isinstance(node, And | Or):
        return any(mentions_metric(item) for item in node.items)
    if isinstance(node, Not):
        return mentions_metric(node.item)
    return node.entity is Entity.METRIC


class ExperimentFilterCompiler(FilterCompiler):
    """Filters on ``experiment e`` and its tags (``experiment_tag``)."""

    target = EXPERIMENTS
    columns: ClassVar[dict[str, LiteralString]] = {
        "name": "e.name",
        "experiment_id": "e.experiment_id",
        "creation_time": "e.created_at",
        "last_update_time": "e.updated_at",
    }

    def keyed(self, node: Comparison | In | IsNull) -> Fragment:
        assert node.entity is Entity.TAG  # the only keyed entity of experiments
        exists: LiteralString = (
            "EXISTS (SELECT 1 FROM experiment_tag kv WHERE kv.experiment_id = e.experiment_id "
            "AND kv.key = {}"
        )
        if isinstance(node, IsNull):
            template: LiteralString = exists + ")"
            return compose(template if node.negated else "NOT " + template, Bind(node.key))
        return compose(
            exists + " AND {})", Bind(node.key), self.value_condition(raw("kv.value"), node)
        )


def compile_run_filter(node: Node | None) -> Fragment:
    """The condition on ``run r`` for ``node`` (TRUE when there is no filter)."""
    return RunFilterCompiler().compile(node)


def compile_model_version_filter(node: Node | None) -> Fragment:
    """The condition on ``model_version v`` / ``registered_model rm`` for ``node``."""
    return ModelVersionFilterCompiler().compile(node)


def compile_registered_model_filter(node: Node | None) -> Fragment:
    """The condition on ``registered_model rm`` for ``node``."""
    return RegisteredModelFilterCompiler().compile(node)


def compile_logged_model_filter(node: Node | None, datasets: Fragment | None = None) -> Fragment:
    """The condition on ``logged_model lm`` for ``node``; metric conditions on ``datasets``."""
    return LoggedModelFilterCompiler(datasets).compile(node)


def compile_experiment_filter(node: Node | None) -> Fragment:
    """The condition on ``experiment e`` for ``node``."""
    return ExperimentFilterCompiler().compile(node)
