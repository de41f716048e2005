"""Shared plumbing of the registry repositories: workspace scoping, lookups and clear NotFounds."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, cast

from modelyard.errors import ModelyardError, NotFound
from modelyard.sql import query
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store.registry_records import ALL_STAGES, ModelVersion, version_from_row

DEFAULT_WORKSPACE_ID = 1


def model_not_found(name: str) -> NotFound:
    return NotFound(f"registered model {name!r} does not exist", name=name)


def version_not_found(name: str, version: int) -> NotFound:
    return NotFound(
        f"version {version} of registered model {name!r} does not exist",
        name=name,
        version=version,
    )


async def latest_by_model(conn: Conn, model_ids: Sequence[Any]) -> dict[Any, list[ModelVersion]]:
    """The latest version per stage of each model, keyed by model_id (one query)."""
    if not model_ids:
        return {}
    cur = await conn.execute(
        query("registry.latest_versions"),
        {"model_ids": list(model_ids), "stages": list(ALL_STAGES)},
    )
    found: dict[Any, list[ModelVersion]] = {}
    for row in await cur.fetchall():
        found.setdefault(row[14], []).append(version_from_row(row))
    return found


@contextmanager
def reword(constraint: str, error: ModelyardError) -> Iterator[None]:
    """Replace the generic error of a violated ``constraint`` with one naming the object."""
    try:
        yield
    except ModelyardError as exc:
        if exc.details.get("constraint") == constraint:
            raise error from exc
        raise


class RegistryBase(Repository):
    """A repository scoped to one workspace, with the lookups every registry operation needs."""

    def __init__(self, pool: Pool, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    def _args(self, **values: Any) -> dict[str, Any]:
        """Query parameters with the workspace filled in."""
        return {"ws": self.workspace_id, **values}

    async def _model_id(self, conn: Conn, name: str) -> int:
        cur = await conn.execute(query("registry.model_id"), self._args(name=name))
        row = await cur.fetchone()
        if row is None:
            raise model_not_found(name)
        return cast(int, row[0])

    async def _fetch_version(self, conn: Conn, name: str, version: int) -> ModelVersion:
        cur = await conn.execute(
            query("registry.get_version"), self._args(name=name, version=version)
        )
        row = await cur.fetchone()
        if row is None:
            await self._explain_missing_version(conn, name, version)
        return version_from_row(row)

    async def _explain_missing_version(self, conn: Conn, name: str, version: int) -> NoReturn:
        """Raise NotFound for the model when it is missing, else for the version."""
        cur = await conn.execute(
            query("registry.find_version"), self._args(name=name, version=version)
        )
        row = await cur.fetchone()
        if row is None:
            raise model_not_found(name)
        raise version_not_found(name, version)
