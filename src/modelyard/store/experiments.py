"""Experiments: create, read, list, rename, describe, tag, soft-delete and restore."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, cast

import msgspec

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.sql import query
from modelyard.store import validation as v
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store._time import optional_ms
from modelyard.store.pagination import Page, check_limit, decode_cursor, encode_cursor, split_page
from modelyard.store.run_data import check_tags

Lifecycle = Literal["active", "deleted", "all"]
LIFECYCLES: tuple[str, ...] = ("active", "deleted", "all")
DEFAULT_WORKSPACE_ID = 1
MAX_ARTIFACT_LOCATION_LENGTH = 4096
_PAGE_SCOPE = "experiments"
_MIN_ID = -(2**63)


class Experiment(msgspec.Struct, kw_only=True):
    """An experiment as the store returns it; times are milliseconds since the epoch."""

    experiment_id: int
    name: str
    description: str | None
    artifact_location: str | None
    lifecycle_stage: str
    creation_time: int
    last_update_time: int
    tags: dict[str, str]


class Experiments(Repository):
    """Experiments of one workspace (the default one until workspaces are exposed)."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def create(
        self,
        name: str,
        *,
        description: str | None = None,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        """A new active experiment; a taken name (even of a deleted one) is AlreadyExists."""
        name = v.check_name(name)
        description = v.check_optional_text(description, "description", v.MAX_DESCRIPTION_LENGTH)
        artifact_location = v.check_optional_text(
            artifact_location, "artifact_location", MAX_ARTIFACT_LOCATION_LENGTH
        )
        keys, values = check_tags(tags)
        async with self.transaction() as conn:
            row = await (
                await conn.execute(
                    query("experiments.insert"),
                    {
                        "workspace_id": self.workspace_id,
                        "name": name,
                        "description": description,
                        "artifact_location": artifact_location,
                    },
                )
            ).fetchone()
            experiment_id = cast(int, row[0]) if row else 0
            if keys:
                await conn.execute(
                    query("experiments.insert_tags"),
                    {"experiment_id": experiment_id, "keys": keys, "values": values},
                )
            return await self._fetch(conn, experiment_id)

    async def get(self, experiment_id: int) -> Experiment:
        experiment_id = check_experiment_id(experiment_id)
        async with self.transaction() as conn:
            return await self._fetch(conn, experiment_id)

    async def get_by_name(self, name: str) -> Experiment:
        name = v.check_name(name)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("experiments.get_by_name"),
                {"workspace_id": self.workspace_id, "name": name},
            )
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"experiment {name!r} does not exist", name=name)
        return experiment_from_row(row)

    async def get_or_create(self, name: str) -> Experiment:
        """The experiment named ``name``, created if missing; safe under concurrent callers.

        A deleted experiment is not silently reused (its name is still taken): InvalidState, as
        MLflow's ``set_experiment`` does, so the caller restores it or picks another name.
        """
        name = v.check_name(name)
        params = {"workspace_id": self.workspace_id, "name": name}
        async with self.transaction() as conn:
            await conn.execute(query("experiments.insert_if_absent"), params)
            # A new statement sees a row committed by a concurrent creator that won the race.
            row = await (await conn.execute(query("experiments.get_by_name"), params)).fetchone()
        if row is None:  # pragma: no cover - the insert or the conflicting row guarantees one
            raise NotFound(f"experiment {name!r} does not exist", name=name)
        experiment = experiment_from_row(row)
        if experiment.lifecycle_stage != "active":
            raise InvalidState(
                f"experiment {name!r} is deleted; restore it or choose another name",
                experiment_id=experiment.experiment_id,
            )
        return experiment

    async def list(
        self,
        *,
        lifecycle: Lifecycle = "active",
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Experiment]:
        """Experiments in creation (id) order, ``limit`` at a time."""
        if lifecycle not in LIFECYCLES:
            raise InvalidInput("lifecycle must be 'active', 'deleted' or 'all'", field="lifecycle")
        limit = check_limit(limit)
        after_id = _MIN_ID
        if page_token is not None:
            (cursor_id,) = decode_cursor(page_token, _PAGE_SCOPE, (int,))
            after_id = cast(int, cursor_id)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("experiments.list"),
                {
                    "workspace_id": self.workspace_id,
                    "lifecycle": lifecycle,
                    "after_id": after_id,
                    "limit": limit + 1,
                },
            )
            rows = await cur.fetchall()
        items, last = split_page([experiment_from_row(row) for row in rows], limit)
        token = encode_cursor(_PAGE_SCOPE, [last.experiment_id]) if last else None
        return Page(items=items, next_page_token=token)

    async def rename(self, experiment_id: int, new_name: str) -> Experiment:
        return await self.edit(experiment_id, name=new_name)

    async def update(self, experiment_id: int, *, description: str | None) -> Experiment:
        """Set (or with None, clear) the description."""
        return await self.edit(experiment_id, description=description)

    async def edit(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        description: str | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> Experiment:
        """Rename and/or set the description (None clears it) in one transaction: both or none."""
        experiment_id = check_experiment_id(experiment_id)
        if name is not None:
            name = v.check_name(name)
        if description is not msgspec.UNSET:
            description = v.check_optional_text(
                description, "description", v.MAX_DESCRIPTION_LENGTH
            )
        async with self.transaction() as conn:
            await self._lock_active(conn, experiment_id, "update")
            if name is not None:
                await conn.execute(
                    query("experiments.rename"), {"experiment_id": experiment_id, "name": name}
                )
            if description is not msgspec.UNSET:
                await conn.execute(
                    query("experiments.set_description"),
                    {"experiment_id": experiment_id, "description": description},
                )
            return await self._fetch(conn, experiment_id)

    async def set_tag(self, experiment_id: int, key: str, value: str) -> None:
        experiment_id = check_experiment_id(experiment_id)
        key = v.check_key(key, "tag key")
        value = v.check_text(value, f"tag {key!r}", v.MAX_TAG_VALUE_LENGTH)
        async with self.transaction() as conn:
            await self._lock_active(conn, experiment_id, "tag")
            params = {"experiment_id": experiment_id, "key": key, "value": value}
            await conn.execute(query("experiments.set_tag"), params)
            await conn.execute(query("experiments.touch"), params)

    async def delete_tag(self, experiment_id: int, key: str) -> None:
        """Remove a tag; a key that is not set is NotFound."""
        experiment_id = check_experiment_id(experiment_id)
        key = v.check_key(key, "tag key")
        async with self.transaction() as conn:
            await self._lock_active(conn, experiment_id, "untag")
            params = {"experiment_id": experiment_id, "key": key}
            cur = await conn.execute(query("experiments.delete_tag"), params)
            if await cur.fetchone() is None:
                raise NotFound(
                    f"experiment {experiment_id} has no tag {key!r}",
                    experiment_id=experiment_id,
                    key=key,
                )
            await conn.execute(query("experiments.touch"), params)

    async def delete(self, experiment_id: int) -> None:
        """Soft delete: the experiment and its active runs become 'deleted' (restorable)."""
        experiment_id = check_experiment_id(experiment_id)
        async with self.transaction() as conn:
            await self._lock_active(conn, experiment_id, "delete")
            await conn.execute(query("experiments.delete"), {"experiment_id": experiment_id})

    async def restore(self, experiment_id: int) -> None:
        """Undo :meth:`delete`: the experiment and the runs deleted with it become active."""
        experiment_id = check_experiment_id(experiment_id)
        async with self.transaction() as conn:
            stage = await self._lock(conn, experiment_id)
            if stage != "deleted":
                raise InvalidState(
                    f"experiment {experiment_id} is not deleted", experiment_id=experiment_id
                )
            await conn.execute(query("experiments.restore"), {"experiment_id": experiment_id})

    async def _lock(self, conn: Conn, experiment_id: int) -> str:
        cur = await conn.execute(
            query("experiments.lock"),
            {"experiment_id": experiment_id, "workspace_id": self.workspace_id},
        )
        row = await cur.fetchone()
        if row is None:
            raise _not_found(experiment_id)
        return cast(str, row[0])

    async def _lock_active(self, conn: Conn, experiment_id: int, action: str) -> None:
        if await self._lock(conn, experiment_id) != "active":
            raise InvalidState(
                f"cannot {action} experiment {experiment_id}: it is deleted",
                experiment_id=experiment_id,
            )

    async def _fetch(self, conn: Conn, experiment_id: int) -> Experiment:
        cur = await conn.execute(
            query("experiments.get"),
            {"experiment_id": experiment_id, "workspace_id": self.workspace_id},
        )
        row = await cur.fetchone()
        if row is None:
            raise _not_found(experiment_id)
        return experiment_from_row(row)


def check_experiment_id(value: object) -> int:
    """An experiment id: an int, or its decimal string (MLflow's wire form)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= v.MAX_INT64:
        raise InvalidInput(
            f"experiment_id must be a non-negative integer, got {value!r}", field="experiment_id"
        )
    return value


def _not_found(experiment_id: int) -> NotFound:
    return NotFound(f"experiment {experiment_id} does not exist", experiment_id=experiment_id)


def experiment_from_row(row: tuple[object, ...]) -> Experiment:
    keys = cast(list[str] | None, row[7]) or []
    values = cast(list[str] | None, row[8]) or []
    return Experiment(
        experiment_id=cast(int, row[0]),
        name=cast(str, row[1]),
        description=cast(str | None, row[2]),
        artifact_location=cast(str | None, row[3]),
        lifecycle_stage=cast(str, row[4]),
        creation_time=cast(int, optional_ms(row[5])),
        last_update_time=cast(int, optional_ms(row[6])),
        tags=dict(zip(keys, values, strict=True)),
    )
