"""The synthetic data set, generated once from a seed and loaded identically into both systems.

The 100,000-run search experiment is loaded by COPY straight into each system's own tables:
through MLflow's REST API it would take hours on this machine (~1 s per request). Every run
gets the same id, name, start time, params, tags and latest metrics in both databases, so the
two servers must return the same page for the same search (checked before timing).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

LEARNING_RATES = ("0.001", "0.003", "0.01", "0.03")
OPTIMIZERS = ("adam", "sgd", "adamw")
TEAMS = ("vision", "nlp", "speech", "ranking", "forecast")
START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z

SEARCH_EXPERIMENT = "bench-search"
HISTORY_EXPERIMENT = "bench-history"
INGEST_EXPERIMENT = "bench-ingest"
MODEL_NAME = "bench-model"
ALIAS = "champion"
MODEL_VERSIONS = 10
ALIAS_TARGET = 7
HISTORY_KEY = "loss"
INGEST_KEYS = tuple(f"m{i}" for i in range(10))

# The measured searches: a filter on a metric and a param ordered by the metric, and the plain
# listing in the default order (newest first).
FILTER = "metrics.loss < 0.5 and params.lr = '0.01'"
ORDER_BY = ("metrics.loss ASC",)
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class SeedRun:
    run_id: str  # 32 lowercase hex digits: MLflow's form, accepted by modelyard
    name: str
    start_ms: int
    end_ms: int
    lr: str
    optimizer: str
    team: str
    loss: float
    acc: float

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ms / 1000, tz=UTC)

    @property
    def end(self) -> datetime:
        return datetime.fromtimestamp(self.end_ms / 1000, tz=UTC)


def search_runs(count: int, seed: int = 20260101) -> Iterator[SeedRun]:
    """``count`` runs, one a minute apart, with reproducible params and metrics."""
    rng = random.Random(seed)
    for i in range(count):
        start = START_MS + i * 60_000
        yield SeedRun(
            run_id=uuid.UUID(int=rng.getrandbits(128), version=4).hex,
            name=f"run-{i:06d}",
            start_ms=start,
            end_ms=start + 30_000,
            lr=rng.choice(LEARNING_RATES),
            optimizer=rng.choice(OPTIMIZERS),
            team=rng.choice(TEAMS),
            loss=rng.random(),
            acc=rng.random(),
        )


@dataclass(frozen=True)
class Series:
    """One metric series column-wise, e.g. the 100,000-point history."""

    steps: list[int]
    timestamps: list[int]
    values: list[float]


def history_series(points: int, seed: int = 7) -> Series:
    rng = random.Random(seed)
    steps = list(range(points))
    return Series(
        steps=steps,
        timestamps=[START_MS + s * 100 for s in steps],
        values=[1.0 / (1 + s) + rng.random() * 0.01 for s in steps],
    )
