"""Run search on a real PostgreSQL: operators, boolean logic, ordering, pages, injection."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from _run_search_data import (
    BASE_MS,
    RunSpec,
    create_experiment,
    default_order,
    insert_runs,
    metric_order,
    sample_runs,
)

from modelyard.errors import FilterSyntaxError, InvalidInput
from modelyard.store import Store
from modelyard.store.run_search import RunSearch
from pool_support import pooled

pytestmark = pytest.mark.anyio

Predicate = Callable[[RunSpec], bool]


class World:
    """A store with the sample runs in one experiment, and a search over it."""

    def __init__(self, store: Store, experiment_id: int, runs: list[RunSpec]) -> None:
        self.store = store
        self.search = RunSearch(store.pool)
        self.experiment_id = experiment_id
        self.runs = runs

    @property
    def active(self) -> list[RunSpec]:
        return [r for r in self.runs if r.lifecycle == "active"]

    async def ids(
        self, filter: str | None = None, order_by: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """All matching ids, following page tokens."""
        found: list[str] = []
        token: str | None = kwargs.pop("page_token", None)
        while True:
            page, token = await self.search.search(
                [self.experiment_id], filter, order_by, page_token=token, **kwargs
            )
            found.extend(page)
            if token is None:
                return found


@pytest.fixture
async def world(store: Store) -> World:
    runs = sample_runs()
    async with pooled(store.pool) as conn:
        experiment_id = await create_experiment(conn, "search")
        await insert_runs(conn, experiment_id, runs)
    return World(store, experiment_id, runs)


def _m(run: RunSpec, key: str) -> float:
    """The metric, NaN when missing: every comparison with NaN is false, as in the search."""
    value = run.metric(key)
    return math.nan if value is None else value


def _p(run: RunSpec, key: str) -> Decimal | None:
    return run.num_param(key)


def _num(run: RunSpec, key: str, test: Callable[[Decimal], bool]) -> bool:
    value = _p(run, key)
    return value is not None and test(value)


FILTER_CASES: list[tuple[str, Predicate]] = [
    # metrics, every operator; a missing metric or a NaN latest value never matches
    ("metrics.loss < 0.5", lambda r: _m(r, "loss") < 0.5),
    ("metrics.loss <= 0.5", lambda r: _m(r, "loss") <= 0.5),
    ("metrics.loss > 0.3", lambda r: _m(r, "loss") > 0.3),
    ("metrics.loss >= 0.3", lambda r: _m(r, "loss") >= 0.3),
    ("metrics.loss = 0.3", lambda r: _m(r, "loss") == 0.3),
    ("metrics.loss != 0.3", lambda r: not math.isnan(_m(r, "loss")) and _m(r, "loss") != 0.3),
    ("metric.loss > -2", lambda r: _m(r, "loss") > -2),
    ("metrics.loss >= -1e300", lambda r: _m(r, "loss") >= -1e300),
    # params as strings
    ("params.opt = 'adam'", lambda r: r.params.get("opt") == "adam"),
    ("params.opt != 'adam'", lambda r: r.params.get("opt") not in (None, "adam")),
    ("params.opt LIKE 'a%'", lambda r: r.params.get("opt", "").startswith("a")),
    ("params.opt ILIKE 'a%'", lambda r: r.params.get("opt", "").lower().startswith("a")),
    ("params.opt NOT LIKE 'a%'", lambda r: "opt" in r.params and not r.params["opt"][:1] == "a"),
    (
        "params.opt NOT ILIKE 'A%'",
        lambda r: "opt" in r.params and r.params["opt"][:1].lower() != "a",
    ),
    ("params.opt IN ('adam', 'sgd')", lambda r: r.params.get("opt") in ("adam", "sgd")),
    (
        "params.opt NOT IN ('adam', 'sgd')",
        lambda r: r.params.get("opt") not in (None, "adam", "sgd"),
    ),
    ("params.opt = 'o''brien'", lambda r: r.params.get("opt") == "o'brien"),
    ("params.lr = '0.01'", lambda r: r.params.get("lr") == "0.01"),
    ('param.lr = "0.01"', lambda r: r.params.get("lr") == "0.01"),
    # params compared as numbers: exact numeric equality, non-numbers never match, never fail
    ("params.lr = 0.01", lambda r: _num(r, "lr", lambda v: v == Decimal("0.01"))),
    ("params.lr > 0.001", lambda r: _num(r, "lr", lambda v: v > Decimal("0.001"))),
    ("params.lr <= 0.001", lambda r: _num(r, "lr", lambda v: v <= Decimal("0.001"))),
    ("params.lr != 0.01", lambda r: _num(r, "lr", lambda v: v != Decimal("0.01"))),
    ("params.lr < 0", lambda r: _num(r, "lr", lambda v: v < 0)),
    ("params.lr IN (0.01, -3)", lambda r: _num(r, "lr", lambda v: v in (Decimal("0.01"), -3))),
    # tags
    ("tags.team LIKE 'vision%'", lambda r: r.tags.get("team", "").startswith("vision")),
    ("tags.team ILIKE 'vision%'", lambda r: r.tags.get("team", "").lower().startswith("vision")),
    ("tag.team = 'nlp'", lambda r: r.tags.get("team") == "nlp"),
    ('tags.note = "a\'b"', lambda r: r.tags.get("note") == "a'b"),
    # IS NULL / IS NOT NULL: the key is missing
    ("metrics.acc IS NULL", lambda r: "acc" not in r.metrics),
    ("metrics.acc IS NOT NULL", lambda r: "acc" in r.metrics),
    ("params.opt IS NULL", lambda r: "opt" not in r.params),
    ("tags.team IS NOT NULL", lambda r: "team" in r.tags),
    ("attributes.end_time IS NULL", lambda r: r.end_ms is None),
    ("attributes.user_id IS NULL", lambda r: r.user_id is None),
    # attributes
    ("attributes.status = 'FINISHED'", lambda r: r.status == "FINISHED"),
    ("status != 'FINISHED'", lambda r: r.status != "FINISHED"),
    ("attributes.status IN ('FAILED', 'RUNNING')", lambda r: r.status in ("FAILED", "RUNNING")),
    ("attributes.run_name = 'beta'", lambda r: r.name == "beta"),
    ("run_name LIKE '%ta'", lambda r: r.name.endswith("ta")),
    ("attributes.`run name` ILIKE 'ALPHA'", lambda r: r.name == "alpha"),
    (f"attributes.start_time > {BASE_MS + 5000}", lambda r: r.start_ms > BASE_MS + 5000),
    (f"attribute.start_time = {BASE_MS + 5000}", lambda r: r.start_ms == BASE_MS + 5000),
    (f"attributes.created <= {BASE_MS + 2000}", lambda r: r.start_ms <= BASE_MS + 2000),
    (
        f"attributes.end_time < {BASE_MS + 9000}",
        lambda r: r.end_ms is not None and r.end_ms < BASE_MS + 9000,
    ),
    ("attributes.user_id = 'bob'", lambda r: r.user_id == "bob"),
    ("attributes.user_id != 'bob'", lambda r: r.user_id not in (None, "bob")),
    # boolean structure: NOT > AND > OR
    (
        "metrics.loss < 0.2 OR params.opt = 'sgd' AND tags.team LIKE 'V%'",
        lambda r: (
            _m(r, "loss") < 0.2
            or (r.params.get("opt") == "sgd" and r.tags.get("team", "").startswith("V"))
        ),
    ),
    (
        "(metrics.loss < 0.2 OR params.opt = 'sgd') AND tags.team LIKE 'V%'",
        lambda r: (
            (_m(r, "loss") < 0.2 or r.params.get("opt") == "sgd")
            and r.tags.get("team", "").startswith("V")
        ),
    ),
    ("NOT params.opt = 'adam'", lambda r: r.params.get("opt") != "adam"),
    (
        "NOT params.opt = 'adam' AND metrics.loss > 0",
        lambda r: r.params.get("opt") != "adam" and _m(r, "loss") > 0,
    ),
    (
        "NOT (params.opt = 'adam' OR metrics.loss > 0)",
        lambda r: not (r.params.get("opt") == "adam" or _m(r, "loss") > 0),
    ),
    (
        "metrics.loss < 0.5 and params.lr = '0.01' and tags.team LIKE 'vision%'",
        lambda r: (
            _m(r, "loss") < 0.5
            and r.params.get("lr") == "0.01"
            and r.tags.get("team", "").startswith("vision")
        ),
    ),
    (
        "metrics.loss > 0 AND NOT metrics.loss > 0.4 OR metrics.acc IS NULL",
        lambda r: (_m(r, "loss") > 0 and not _m(r, "loss") > 0.4) or "acc" not in r.metrics,
    ),
]


@pytest.mark.parametrize(("text", "predicate"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
async def test_filter_matches_the_oracle(world: World, text: str, predicate: Predicate) -> None:
    expected = [r.run_id for r in default_order(world.active) if predicate(r)]
    assert await world.ids(text) == expected


async def test_run_id_filters_accept_hex_and_dashed_ids_and_ignore_invalid_ones(
    world: World,
) -> None:
    first, second = world.active[0], world.active[1]
    dashed = str(__import__("uuid").UUID(second.run_id))
    got = await world.ids(f"attributes.run_id IN ('{first.run_id}', '{dashed}', 'nope')")
    assert sorted(got) == sorted([first.run_id, second.run_id])
    assert await world.ids(f"attributes.run_id = '{first.run_id}'") == [first.run_id]
    assert await world.ids("attributes.run_id = 'a'") == []
    assert len(await world.ids("attributes.run_id != 'a'")) == len(world.active)
    others = await world.ids(f"attributes.run_id NOT IN ('{first.run_id}', 'x')")
    assert first.run_id not in others and len(others) == len(world.active) - 1


@pytest.mark.parametrize("lifecycle", ["active", "deleted", "all"])
async def test_lifecycle_selects_active_deleted_or_all(world: World, lifecycle: str) -> None:
    expected = [
        r.run_id
        for r in default_order(world.runs)
        if lifecycle == "all" or r.lifecycle == lifecycle
    ]
    assert await world.ids(lifecycle=lifecycle) == expected


@pytest.mark.parametrize("ascending", [True, False])
@pytest.mark.parametrize("key", ["loss", "acc", "absent"])
async def test_order_by_metric_puts_nan_then_missing_last(
    world: World, key: str, ascending: bool
) -> None:
    direction = "ASC" if ascending else "DESC"
    expected = [r.run_id for r in metric_order(world.active, key, ascending)]
    assert await world.ids(order_by=[f"metrics.{key} {direction}"]) == expected


async def test_order_by_metric_with_a_filter_on_it_and_a_second_key(world: World) -> None:
    runs = [r for r in world.active if _m(r, "loss") < 1 or "loss" not in r.metrics]
    runs = [r for r in runs if r.params.get("opt") != "sgd"]

    def rank(run: RunSpec) -> tuple[int, float, bool, str]:
        loss = run.metric("loss")
        group = 2 if loss is None else 1 if math.isnan(loss) else 0
        opt = run.params.get("opt")
        return (group, -loss if group == 0 and loss is not None else 0.0, opt is None, opt or "")

    # A stable sort of the tie-break order applies the tie-break last.
    expected = [r.run_id for r in sorted(default_order(runs), key=rank)]
    got = await world.ids(
        "(metrics.loss < 1 OR metrics.loss IS NULL) AND NOT params.opt = 'sgd'",
        ["metrics.loss DESC", "params.opt ASC"],
    )
    assert got == expected


@pytest.mark.parametrize(
    ("order", "key"),
    [
        ("params.opt", lambda r: (r.params.get("opt") is None, r.params.get("opt") or "")),
        ("tags.team ASC", lambda r: (r.tags.get("team") is None, r.tags.get("team") or "")),
        ("attributes.run_name", lambda r: (False, r.name)),
        ("attributes.start_time ASC", lambda r: (False, r.start_ms)),
    ],
)
async def test_order_by_param_tag_and_attribute(
    world: World, order: str, key: Callable[[RunSpec], Any]
) -> None:
    expected = [r.run_id for r in sorted(default_order(world.active), key=key)]
    assert await world.ids(order_by=[order]) == expected


async def test_order_descending_keeps_missing_values_last(world: World) -> None:
    present = [r for r in default_order(world.active) if "opt" in r.params]
    missing = [r for r in default_order(world.active) if "opt" not in r.params]
    present.sort(key=lambda r: r.params["opt"], reverse=True)
    # stable sort reversed would flip tie order; the tie-break stays newest first
    present = sorted(default_order(present), key=lambda r: r.params["opt"], reverse=True)
    assert await world.ids(order_by=["params.opt DESC"]) == [r.run_id for r in present + missing]


@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 100])
@pytest.mark.parametrize(
    "order_by",
    [
        None,
        ["attributes.start_time DESC"],
        ["metrics.loss DESC"],
        ["metrics.acc"],
        ["params.lr DESC", "tags.team"],
    ],
)
async def test_pages_have_no_duplicates_or_gaps(
    world: World, page_size: int, order_by: list[str] | None
) -> None:
    everything, _ = await world.search.search(
        [world.experiment_id], None, order_by, max_results=1000
    )
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page, token = await world.search.search(
            [world.experiment_id], None, order_by, max_results=page_size, page_token=token
        )
        pages.append(page)
        if token is None:
            break
    assert [run_id for page in pages for run_id in page] == everything
    assert all(len(page) == page_size for page in pages[:-1])
    assert pages[-1], "the last page is never empty"
    assert len(everything) == len(world.active)


async def test_keyset_pages_ignore_runs_inserted_meanwhile(world: World) -> None:
    first, token = await world.search.search([world.experiment_id], max_results=3)
    assert token is not None
    async with pooled(world.store.pool) as conn:
        await insert_runs(conn, world.experiment_id, [RunSpec("newest", BASE_MS + 99_000)])
    rest = await world.ids(page_token=token)
    expected = [r.run_id for r in default_order(world.active)]
    assert first + rest == expected


@pytest.mark.parametrize("token", ["garbage", "", "eyJmIjoiMTIzIn0", "e30"])
async def test_bad_page_tokens_are_invalid_input(world: World, token: str) -> None:
    with pytest.raises(InvalidInput):
        await world.search.search([world.experiment_id], page_token=token)


async def test_a_token_of_another_search_is_refused(world: World) -> None:
    _, token = await world.search.search([world.experiment_id], "metrics.loss > 0", max_results=1)
    assert token is not None
    with pytest.raises(InvalidInput, match="page_token"):
        await world.search.search([world.experiment_id], "metrics.loss > 1", page_token=token)


async def test_several_experiments_are_searched_together(world: World) -> None:
    other = [RunSpec("other", BASE_MS + 500, metrics={"loss": 0.2})]
    async with pooled(world.store.pool) as conn:
        other_id = await create_experiment(conn, "other")
        await insert_runs(conn, other_id, other)
    ids, _ = await world.search.search(
        [world.experiment_id, str(other_id)], "metrics.loss < 0.25", ["metrics.loss"]
    )
    runs = [r for r in [*world.active, *other] if _m(r, "loss") < 0.25]
    assert ids == [r.run_id for r in metric_order(runs, "loss", True)]
    assert await world.search.search([], "metrics.loss < 1") == ([], None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"lifecycle": "gone"}, "lifecycle"),
        ({"max_results": 0}, "max_results"),
        ({"max_results": 50_001}, "max_results"),
        ({"experiment_ids": ["x"]}, "experiment_ids"),
        ({"order_by": ["params.a"] * 9}, "order_by"),
    ],
)
async def test_invalid_arguments_are_invalid_input(
    world: World, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"experiment_ids": [world.experiment_id], **kwargs}
    with pytest.raises(InvalidInput) as caught:
        await world.search.search(**args)
    assert caught.value.details.get("field") == field


INJECTIONS_REJECTED = [
    "params.x = 'a'; DROP TABLE run; --'",
    "params.x = 'a' OR 1=1",
    "metrics.loss < 0.5; DELETE FROM run",
    "params.x = 'a' UNION SELECT run_id FROM run",
    "attributes.status = 'FINISHED' --",
    "metrics.loss < 0.5) OR (1=1",
    "tags.`x` = 'a' /* comment */",
]
INJECTIONS_HARMLESS = [
    "metrics.`a) OR 1=1 --` > 0",
    "params.`x' OR '1'='1` = 'a'",
    "params.x = 'a''; DROP TABLE run; --'",
    "tags.t = '%'' OR ''1''=''1'",
    'params."lr; DROP TABLE run" IS NULL',
]


@pytest.mark.parametrize("text", INJECTIONS_REJECTED)
async def test_injection_attempts_are_syntax_errors(world: World, text: str) -> None:
    with pytest.raises(FilterSyntaxError):
        await world.search.search([world.experiment_id], text)
    assert len(await world.ids()) == len(world.active)


@pytest.mark.parametrize("text", INJECTIONS_HARMLESS)
async def test_injection_attempts_are_harmless_literals(world: World, text: str) -> None:
    ids, _ = await world.search.search([world.experiment_id], text)
    # Only the IS NULL filter matches anything: no run has such a key, so all runs match.
    assert len(ids) == (len(world.active) if "IS NULL" in text else 0)
    async with pooled(world.store.pool) as conn:
        cur = await conn.execute("SELECT count(*) FROM run")
        row = await cur.fetchone()
    assert row is not None and row[0] == len(world.runs)


async def test_order_by_injection_is_rejected(world: World) -> None:
    with pytest.raises(FilterSyntaxError):
        await world.search.search([world.experiment_id], order_by=["metrics.loss; DROP TABLE run"])
    ids, _ = await world.search.search(
        [world.experiment_id], order_by=["metrics.`loss; DROP TABLE run` DESC"]
    )
    assert ids == [r.run_id for r in default_order(world.active)]
