"""Test data for run search: runs described in Python, written with plain SQL, and an oracle.

Each test states the expected result as a Python predicate over these descriptions, so the
assertions follow from the data rather than from hand-copied id lists.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from psycopg import AsyncConnection

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BASE_MS = 1_700_000_000_000
# What the search treats as a number in a param or tag value (see modelyard.search.compiler).
NUMERIC_TEXT = re.compile(r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?\Z")


@dataclass
class RunSpec:
    name: str
    start_ms: int
    status: str = "FINISHED"
    user_id: str | None = "alice"
    end_ms: int | None = None
    lifecycle: str = "active"
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    experiment_id: int = 0

    def metric(self, key: str) -> float | None:
        return self.metrics.get(key)

    def num_param(self, key: str) -> Decimal | None:
        """The param as a number, None if missing or not a number by the documented rule."""
        value = self.params.get(key)
        if value is None or len(value) > 1000 or not NUMERIC_TEXT.match(value):
            return None
        return Decimal(value)


def ms(value: int) -> datetime:
    return EPOCH + timedelta(milliseconds=value)


async def create_experiment(conn: AsyncConnection[Any], name: str) -> int:
    cur = await conn.execute(
        "INSERT INTO experiment (name) VALUES (%s) RETURNING experiment_id", [name]
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def insert_runs(conn: AsyncConnection[Any], experiment_id: int, runs: list[RunSpec]) -> None:
    for run in runs:
        run.experiment_id = experiment_id
        await conn.execute(
            "INSERT INTO run (run_id, experiment_id, name, status, start_time, end_time, user_id, "
            "lifecycle_stage, deleted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                uuid.UUID(run.run_id),
                experiment_id,
                run.name,
                run.status,
                ms(run.start_ms),
                None if run.end_ms is None else ms(run.end_ms),
                run.user_id,
                run.lifecycle,
                None if run.lifecycle == "active" else ms(run.start_ms),
            ],
        )
        for key, value in run.params.items():
            await conn.execute(
                "INSERT INTO run_param (run_id, key, value) VALUES (%s, %s, %s)",
                [uuid.UUID(run.run_id), key, value],
            )
        for key, value in run.tags.items():
            await conn.execute(
                "INSERT INTO run_tag (run_id, key, value) VALUES (%s, %s, %s)",
                [uuid.UUID(run.run_id), key, value],
            )
        for key, number in run.metrics.items():
            await conn.execute(
                "INSERT INTO metric_series (run_id, key, experiment_id, last_value, last_step, "
                "last_timestamp, point_count) VALUES (%s, %s, %s, %s, 0, %s, 1)",
                [uuid.UUID(run.run_id), key, experiment_id, number, run.start_ms],
            )


def default_order(runs: list[RunSpec]) -> list[RunSpec]:
    """start_time DESC, run_id ASC: the tie-breaker of every order."""
    by_id = sorted(runs, key=lambda r: r.run_id)
    return sorted(by_id, key=lambda r: r.start_ms, reverse=True)


def metric_order(runs: list[RunSpec], key: str, ascending: bool) -> list[RunSpec]:
    """Numbers in order, then NaN, then runs without the metric; ties newest first."""
    numbers = [r for r in runs if r.metric(key) is not None and not math.isnan(r.metrics[key])]
    nans = [r for r in runs if r.metric(key) is not None and math.isnan(r.metrics[key])]
    missing = [r for r in runs if r.metric(key) is None]
    ordered = sorted(default_order(numbers), key=lambda r: r.metrics[key], reverse=not ascending)
    return ordered + default_order(nans) + default_order(missing)


def sample_runs() -> list[RunSpec]:
    """A dozen runs covering present, missing, NaN and non-numeric values."""
    nan = math.nan
    return [
        RunSpec(
            "alpha",
            BASE_MS + 1000,
            params={"lr": "0.01", "opt": "adam"},
            tags={"team": "vision-a"},
            metrics={"loss": 0.30, "acc": 0.9},
        ),
        RunSpec(
            "beta",
            BASE_MS + 2000,
            params={"lr": "0.010", "opt": "sgd"},
            tags={"team": "Vision-b"},
            metrics={"loss": 0.70, "acc": 0.5},
        ),
        RunSpec(
            "gamma",
            BASE_MS + 3000,
            params={"lr": "1e-2", "opt": "Adam"},
            tags={"team": "nlp"},
            metrics={"loss": 0.50},
            status="FAILED",
        ),
        RunSpec(
            "delta",
            BASE_MS + 4000,
            params={"lr": "abc"},
            tags={"team": "vision"},
            metrics={"loss": nan, "acc": 0.7},
            user_id="bob",
        ),
        RunSpec(
            "epsilon",
            BASE_MS + 5000,
            params={"lr": "0.0001", "opt": "o'brien"},
            metrics={"acc": 0.95},
            status="RUNNING",
            user_id=None,
        ),
        RunSpec(
            "zeta",
            BASE_MS + 5000,
            params={"lr": "1e99999"},
            tags={"team": "vision-c"},
            metrics={"loss": 0.10},
            end_ms=BASE_MS + 9000,
        ),
        RunSpec(
            "eta", BASE_MS + 6000, params={"lr": "9" * 1500}, metrics={"loss": -1.5, "acc": nan}
        ),
        RunSpec("theta", BASE_MS + 7000, tags={"note": "a'b"}),
        RunSpec(
            "iota",
            BASE_MS + 8000,
            params={"lr": " 0.01", "opt": "adam"},
            metrics={"loss": 0.30},
            end_ms=BASE_MS + 8500,
        ),
        RunSpec("kappa", BASE_MS + 8000, params={"lr": "-3"}, metrics={"loss": 2.0}),
        RunSpec(
            "lambda",
            BASE_MS + 8000,
            params={"lr": "NaN"},
            metrics={"loss": 0.30},
            lifecycle="deleted",
        ),
    ]
