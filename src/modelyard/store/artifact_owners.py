"""The owners of artifact paths: which experiment a run or a logged model belongs to, and where
a logged model's files live among its source run's artifacts.

The MLflow artifact proxy and the registry's source checks ask these two one-row questions on
every request, so they are single primary-key reads, not the full run or model records.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, cast

from modelyard.errors import NotFound
from modelyard.sql import query
from modelyard.store._base import Pool, Repository
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID
from modelyard.store.logged_model_records import check_model_id


@dataclass(frozen=True)
class RunOwner:
    run_id: uuid.UUID
    experiment_id: int
    artifact_uri: str | None
    active: bool


@dataclass(frozen=True)
class ModelOwner:
    model_id: str
    experiment_id: int
    source_run_id: uuid.UUID | None
    # The directory of the model's files among the source run's artifacts (models/<model_id>).
    artifact_path: str
    active: bool


class ArtifactOwners(Repository):
    """One-row lookups of runs and logged models, scoped to a workspace."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def run(self, run_id: uuid.UUID) -> RunOwner:
        row = await self._one("artifact_owners.run", {"run_id": run_id})
        if row is None:
            raise NotFound(f"run {run_id.hex} does not exist", run_id=run_id.hex)
        return RunOwner(
            run_id=run_id,
            experiment_id=cast(int, row[0]),
            artifact_uri=cast(str | None, row[1]),
            active=row[2] == "active",
        )

    async def logged_model(self, model_id: str) -> ModelOwner:
        model_id = check_model_id(model_id)
        row = await self._one("artifact_owners.logged_model", {"model_id": model_id})
        if row is None:
            raise NotFound(f"logged model {model_id} does not exist", model_id=model_id)
        return ModelOwner(
            model_id=model_id,
            experiment_id=cast(int, row[0]),
            source_run_id=cast(uuid.UUID | None, row[1]),
            artifact_path=cast(str, row[2]),
            active=row[3] == "active",
        )

    async def _one(self, name: str, args: dict[str, Any]) -> tuple[object, ...] | None:
        async with self.read() as conn:
            cur = await conn.execute(query(name), {**args, "ws": self.workspace_id})
            return await cur.fetchone()
