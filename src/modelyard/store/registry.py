"""The model registry: registered models here, versions and aliases mixed in from their modules.

MLflow's model registry semantics: model names are unique per workspace, versions are numbered
per model from a counter on the model row, deletion of a model is a hard delete that takes its
versions, tags and aliases with it. Everything below a model is keyed by its internal model_id,
so a rename is one row update and keeps versions and aliases.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from modelyard.errors import AlreadyExists
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Conn
from modelyard.store._registry_base import latest_by_model, model_not_found, reword
from modelyard.store.aliases import Aliases
from modelyard.store.model_versions import ModelVersions
from modelyard.store.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from modelyard.store.registry_records import (
    ModelVersion,
    RegisteredModel,
    check_description,
    check_tag,
    check_tags,
    model_from_row,
)

__all__ = ["ModelVersion", "RegisteredModel", "Registry"]


def _name_taken(name: str) -> AlreadyExists:
    return AlreadyExists(f"registered model {name!r} already exists", name=name)


class Registry(ModelVersions, Aliases):
    """Registered models, their versions, stages, tags and aliases."""

    async def create_model(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """A new registered model with no versions; AlreadyExists when the name is taken."""
        validation.check_name(name)
        description = check_description(description)
        keys, values = check_tags(tags)
        with reword("registered_model_name_uq", _name_taken(name)):
            async with self.transaction() as conn:
                cur = await conn.execute(
                    query("registry.create_model"),
                    self._args(name=name, description=description),
                )
                row = await cur.fetchone()
                assert row is not None  # INSERT ... RETURNING always returns the row
                if keys:
                    await conn.execute(
                        query("registry.insert_model_tags"),
                        {"model_id": row[0], "keys": keys, "values": values},
                    )
                return await self._fetch_model(conn, name)

    async def get_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases (alias -> version) and latest version per stage."""
        validation.check_name(name)
        async with self.transaction() as conn:
            return await self._fetch_model(conn, name)

    async def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        """Rename a model; its versions, tags and aliases follow (they hang off its id)."""
        return await self.edit_model(name, new_name=new_name)

    async def update_model(self, name: str, *, description: str | None) -> RegisteredModel:
        """Set (or, with None, clear) the description of a model."""
        return await self.edit_model(name, description=description)

    async def edit_model(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | msgspec.UnsetType | None = msgspec.UNSET,
    ) -> RegisteredModel:
        """Rename and/or set the description (None clears it) in one transaction: both or none."""
        validation.check_name(name)
        if new_name is not None:
            validation.check_name(new_name, "new_name")
        if description is not msgspec.UNSET:
            description = check_description(description)
        with reword("registered_model_name_uq", _name_taken(new_name or name)):
            async with self.transaction() as conn:
                if new_name is not None and new_name != name:
                    cur = await conn.execute(
                        query("registry.rename_model"), self._args(name=name, new_name=new_name)
                    )
                    if await cur.fetchone() is None:
                        raise model_not_found(name)
                    name = new_name
                if description is not msgspec.UNSET:
                    cur = await conn.execute(
                        query("registry.update_model"),
                        self._args(name=name, description=description),
                    )
                    if await cur.fetchone() is None:
                        raise model_not_found(name)
                return await self._fetch_model(conn, name)

    async def delete_model(self, name: str) -> None:
        """Delete a model for good, with its versions, tags and aliases."""
        validation.check_name(name)
        async with self.transaction() as conn:
            cur = await conn.execute(query("registry.delete_model"), self._args(name=name))
            if await cur.fetchone() is None:
                raise model_not_found(name)

    async def set_model_tag(self, name: str, key: str, value: str) -> None:
        validation.check_name(name)
        key, value = check_tag(key, value)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.set_model_tag"), self._args(name=name, key=key, value=value)
            )
            if await cur.fetchone() is None:
                raise model_not_found(name)

    async def delete_model_tag(self, name: str, key: str) -> None:
        """Remove a tag; a tag that is not there is no error (as in MLflow), a missing model is."""
        validation.check_name(name)
        key = validation.check_key(key, "tag key")
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.delete_model_tag"), self._args(name=name, key=key)
            )
            if await cur.fetchone() is None:
                await self._model_id(conn, name)  # raises NotFound for the model

    async def list_models(
        self,
        *,
        name_like: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        """Models in name order; ``name_like`` is a SQL LIKE pattern (``%`` and ``_``)."""
        if name_like is not None:
            validation.check_text(name_like, "name_like", validation.MAX_NAME_LENGTH)
        limit = check_limit(limit)
        after = ""
        if page_token is not None:
            (after_key,) = decode_cursor(page_token, "models", [str])
            after = str(after_key)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.list_models"),
                self._args(after=after, name_like=name_like, limit=limit + 1),
            )
            rows = await cur.fetchall()
            page = rows[:limit]
            latest = await self._latest_by_model(conn, [row[0] for row in page])
        items = [model_from_row(row, latest.get(row[0], [])) for row in page]
        token = encode_cursor("models", [items[-1].name]) if len(rows) > limit else None
        return Page(items=items, next_page_token=token)

    async def _fetch_model(self, conn: Conn, name: str) -> RegisteredModel:
        cur = await conn.execute(query("registry.get_model"), self._args(name=name))
        row = await cur.fetchone()
        if row is None:
            raise model_not_found(name)
        latest = await self._latest_by_model(conn, [row[0]])
        return model_from_row(row, latest.get(row[0], []))

    async def _latest_by_model(
        self, conn: Conn, model_ids: Sequence[Any]
    ) -> dict[Any, list[ModelVersion]]:
        return await latest_by_model(conn, model_ids)
