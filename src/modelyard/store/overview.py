"""Read models of the web UI: experiment summaries, run trees, metric extremes, run versions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import msgspec

from modelyard.errors import InvalidInput
from modelyard.sql import query
from modelyard.store._base import Repository
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID, LIFECYCLES
from modelyard.store.run_data import Run, load_runs

MAX_CHILDREN = 500


class ExperimentSummary(msgspec.Struct, kw_only=True):
    """An experiment with its run counts and last activity (ms since the epoch)."""

    experiment_id: int
    name: str
    lifecycle_stage: str
    creation_time: int
    runs: int
    active_runs: int
    running_runs: int
    last_activity: int


class RunVersion(msgspec.Struct, kw_only=True):
    """A model version registered from a run."""

    name: str
    version: int
    stage: str
    aliases: list[str]
    creation_timestamp: int


class Overview(Repository):
    """Queries of the UI that no REST resource needs."""

    def __init__(self, pool: Any, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def experiment_summaries(
        self, *, lifecycle: str = "active", limit: int = 1000
    ) -> list[ExperimentSummary]:
        if lifecycle not in LIFECYCLES:
            raise InvalidInput("lifecycle must be 'active', 'deleted' or 'all'", field="lifecycle")
        async with self.read() as conn:
            cur = await conn.execute(
                query("overview.experiment_summaries"),
                {"workspace_id": self.workspace_id, "lifecycle": lifecycle, "limit": limit},
            )
            rows: list[Any] = await cur.fetchall()
        return [
            ExperimentSummary(
                experiment_id=row[0],
                name=row[1],
                lifecycle_stage=row[2],
                creation_time=row[3],
                runs=row[4],
                active_runs=row[5],
                running_runs=row[6],
                last_activity=row[7],
            )
            for row in rows
        ]

    async def child_counts(self, run_ids: Sequence[str], lifecycle: str) -> dict[str, int]:
        """How many children each of ``run_ids`` has (runs without children are left out)."""
        if not run_ids:
            return {}
        async with self.read() as conn:
            cur = await conn.execute(
                query("overview.child_counts"),
                {"run_ids": [uuid.UUID(r) for r in run_ids], "lifecycle": lifecycle},
            )
            rows: list[Any] = await cur.fetchall()
        return {row[0].hex: row[1] for row in rows}

    async def children(self, run_id: str, lifecycle: str) -> list[Run]:
        """The child runs of ``run_id``, newest first, at most ``MAX_CHILDREN``."""
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("overview.children"),
                {"run_id": uuid.UUID(run_id), "lifecycle": lifecycle, "limit": MAX_CHILDREN},
            )
            rows: list[Any] = await cur.fetchall()
            ids = [row[0] for row in rows]
            return await load_runs(conn, ids)

    async def metric_extremes(
        self, run_ids: Sequence[str], keys: Sequence[str]
    ) -> dict[tuple[str, str], tuple[float, float]]:
        """(min, max) of each metric ``keys`` of each run, keyed by (run id hex, key)."""
        if not run_ids or not keys:
            return {}
        async with self.read() as conn:
            cur = await conn.execute(
                query("overview.metric_extremes"),
                {"run_ids": [uuid.UUID(r) for r in run_ids], "keys": list(keys)},
            )
            rows: list[Any] = await cur.fetchall()
        return {(row[0].hex, row[1]): (row[2], row[3]) for row in rows}

    async def metric_keys(self, experiment_id: int, limit: int = 500) -> list[str]:
        async with self.read() as conn:
            cur = await conn.execute(
                query("overview.metric_keys"), {"experiment_id": experiment_id, "limit": limit}
            )
            rows: list[Any] = await cur.fetchall()
            return [row[0] for row in rows]

    async def versions_of_run(self, run_id: str) -> list[RunVersion]:
        async with self.read() as conn:
            cur = await conn.execute(
                query("overview.versions_of_run"),
                {"run_id": uuid.UUID(run_id), "workspace_id": self.workspace_id},
            )
            rows: list[Any] = await cur.fetchall()
        return [
            RunVersion(
                name=row[0],
                version=row[1],
                stage=row[2],
                aliases=list(row[3]),
                creation_timestamp=row[4],
            )
            for row in rows
        ]

    async def running_runs(self, experiment_id: int | None, limit: int = 50) -> list[Run]:
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("overview.running_runs"),
                {
                    "workspace_id": self.workspace_id,
                    "experiment_id": experiment_id,
                    "limit": limit,
                },
            )
            rows: list[Any] = await cur.fetchall()
            ids = [row[0] for row in rows]
            return await load_runs(conn, ids)
