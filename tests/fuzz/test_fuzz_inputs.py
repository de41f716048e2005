"""Property-based fuzzing of the parsers that read untrusted text: only typed input errors.

hypothesis feeds the search-filter and order-by parsers, the artifact path checks and the metric
batch decoder with the checked-in seed corpus (``corpus/``: real inputs and known tricky ones)
and then generated text and bytes. Whatever comes in, each either accepts it or raises
:class:`modelyard.errors.InvalidInput` (a 400 at the API); any other exception is a bug. The runs
are derandomized, so they are the same on every machine and never flaky; each prints how many
inputs it executed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from modelyard.artifacts import paths
from modelyard.errors import InvalidInput
from modelyard.search.fields import MODEL_VERSIONS, RUNS
from modelyard.search.parser import parse_filter, parse_order_by
from modelyard.server.api.metrics import _batch
from modelyard.store._metric_columns import to_batch

CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = 400
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _seeds(name: str) -> list[str]:
    return [line for line in (CORPUS / name).read_text(encoding="utf-8").splitlines() if line]


def _with_seeds(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorate a hypothesis test with every line of a corpus file as an explicit example."""

    def decorate(test: Callable[..., None]) -> Callable[..., None]:
        for seed in _seeds(name):
            test = example(seed)(test)
        return test

    return decorate


class Executions:
    """Counts a fuzz target's executions and how many inputs it refused."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.runs = 0
        self.refused = 0

    def __call__(self, target: Callable[[], object]) -> None:
        self.runs += 1
        try:
            target()
        except InvalidInput:
            self.refused += 1

    def report(self) -> None:
        print(f"\nfuzz {self.name}: {self.runs} executions, {self.refused} refused as InvalidInput")
        assert self.runs >= EXAMPLES // 2


# Text near the filter grammar finds deeper paths than uniform text.
GRAMMAR_BITS = st.sampled_from(
    ["metrics.", "params.", "tags.", "attributes.", "datasets.", "loss", "`", "'", '"', " ",
     "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "(", ")", ",", "AND", "and",
     "NaN", "-", "1", "0.5", "1e999", "\\", "%", "IS", "NULL", "\x00", "é"]
)
FILTER_TEXT = st.one_of(st.text(max_size=200), st.lists(GRAMMAR_BITS, max_size=30).map("".join))


@pytest.mark.parametrize("target", [RUNS, MODEL_VERSIONS], ids=["runs", "model_versions"])
def test_the_filter_parser_raises_only_input_errors(target: object) -> None:
    executions = Executions(f"filter parser ({getattr(target, 'name', target)})")

    @FUZZ
    @given(FILTER_TEXT)
    @_with_seeds("filters.txt")
    def fuzz(text: str) -> None:
        executions(lambda: parse_filter(text, target))  # type: ignore[arg-type]

    fuzz()
    executions.report()


def test_the_order_by_parser_raises_only_input_errors() -> None:
    executions = Executions("order-by parser")

    @FUZZ
    @given(FILTER_TEXT)
    @_with_seeds("order_by.txt")
    def fuzz(text: str) -> None:
        executions(lambda: parse_order_by([text]))

    fuzz()
    executions.report()


PATH_TEXT = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["a", "..", ".", "/", "\\", "%2e", "%2F", "\x00", " ", "é", "~"]),
             max_size=20).map("".join),
)


def test_artifact_paths_raise_only_input_errors() -> None:
    executions = Executions("artifact paths")

    @FUZZ
    @given(PATH_TEXT)
    @_with_seeds("paths.txt")
    def fuzz(text: str) -> None:
        executions(lambda: paths.check_path(text))
        executions(lambda: paths.check_directory(text))

    fuzz()
    executions.report()


BATCH_BODIES = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(["keys", "values", "steps", "timestamps", "metrics", "key", "value",
                             "step", "timestamp", "x"]),
            inner,
            max_size=5,
        ),
        max_leaves=30,
    ).map(lambda value: __import__("json").dumps(value, allow_nan=True).encode()),
)


def test_the_metric_batch_decoder_raises_only_input_errors() -> None:
    executions = Executions("metric batch decoder")

    @FUZZ
    @given(BATCH_BODIES)
    @_with_seeds("batches.txt")
    def fuzz(body: bytes | str) -> None:
        raw = body.encode() if isinstance(body, str) else body
        executions(lambda: to_batch(_batch(raw)))

    fuzz()
    executions.report()
