"""Model versions: registration with gapless numbering, stages, descriptions, tags and listing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from modelyard.errors import InvalidInput, NotFound
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._registry_base import (
    RegistryBase,
    model_not_found,
    reword,
    version_not_found,
)
from modelyard.store.logged_model_records import check_model_id
from modelyard.store.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from modelyard.store.registry_records import (
    ACTIVE_STAGES,
    MAX_RUN_LINK_LENGTH,
    MAX_USER_ID_LENGTH,
    MAX_VERSION,
    ModelVersion,
    check_description,
    check_source,
    check_stage,
    check_stages,
    check_tag,
    check_tags,
    check_version,
    version_from_row,
)


class ModelVersions(RegistryBase):
    """The version operations of :class:`modelyard.store.registry.Registry`."""

    async def create_version(
        self,
        model_name: str,
        source: str,
        *,
        run_id: str | None = None,
        run_link: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        user_id: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Register the next version of ``model_name``: 1, 2, 3... without gaps or duplicates.

        ``model_id`` names the logged model the version was registered from (it must exist).
        """
        validation.check_name(model_name)
        source = check_source(source)
        run_uuid = validation.check_uuid(run_id) if run_id is not None else None
        run_link = validation.check_optional_text(run_link, "run_link", MAX_RUN_LINK_LENGTH)
        description = check_description(description)
        user_id = validation.check_optional_text(user_id, "user_id", MAX_USER_ID_LENGTH)
        keys, values = check_tags(tags)
        logged = None if model_id is None else check_model_id(model_id)
        run_hex = run_uuid.hex if run_uuid else ""
        missing_run = NotFound(f"run {run_hex} does not exist", run_id=run_hex)
        missing_model = NotFound(f"logged model {logged} does not exist", model_id=logged)
        with (
            reword("model_version_run_fk", missing_run),
            reword("model_version_logged_model_fk", missing_model),
        ):
            async with self.transaction() as conn:
                cur = await conn.execute(
                    query("registry.next_version"), self._args(name=model_name)
                )
                row = await cur.fetchone()
                if row is None:
                    raise model_not_found(model_name)
                registered_id, version = cast(tuple[int, int], row)
                await conn.execute(
                    query("registry.insert_version"),
                    {
                        "model_id": registered_id,
                        "version": version,
                        "source": source,
                        "run_id": run_uuid,
                        "run_link": run_link,
                        "description": description,
                        "user_id": user_id,
                        "logged_model_id": logged,
                    },
                )
                if keys:
                    await conn.execute(
                        query("registry.insert_version_tags"),
                        {
                            "model_id": registered_id,
                            "version": version,
                            "keys": keys,
                            "values": values,
                        },
                    )
                return await self._fetch_version(conn, model_name, version)

    async def get_version(self, name: str, version: int | str) -> ModelVersion:
        validation.check_name(name)
        number = check_version(version)
        async with self.transaction() as conn:
            return await self._fetch_version(conn, name, number)

    async def update_version(
        self, name: str, version: int | str, *, description: str | None
    ) -> ModelVersion:
        """Set (or, with None, clear) the description of a version."""
        validation.check_name(name)
        number = check_version(version)
        description = check_description(description)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.update_version"),
                self._args(name=name, version=number, description=description),
            )
            if await cur.fetchone() is None:
                await self._explain_missing_version(conn, name, number)
            return await self._fetch_version(conn, name, number)

    async def delete_version(self, name: str, version: int | str) -> None:
        """Delete a version with its tags and aliases; its number is never given out again."""
        validation.check_name(name)
        number = check_version(version)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.delete_version"), self._args(name=name, version=number)
            )
            if await cur.fetchone() is None:
                await self._explain_missing_version(conn, name, number)

    async def set_version_tag(self, name: str, version: int | str, key: str, value: str) -> None:
        validation.check_name(name)
        number = check_version(version)
        key, value = check_tag(key, value)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.set_version_tag"),
                self._args(name=name, version=number, key=key, value=value),
            )
            if await cur.fetchone() is None:
                await self._explain_missing_version(conn, name, number)

    async def delete_version_tag(self, name: str, version: int | str, key: str) -> None:
        """Remove a tag; a missing tag is no error (as in MLflow), a missing version is."""
        validation.check_name(name)
        number = check_version(version)
        key = validation.check_key(key, "tag key")
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.delete_version_tag"),
                self._args(name=name, version=number, key=key),
            )
            if await cur.fetchone() is None:
                await self._fetch_version(conn, name, number)  # raises when the version is missing

    async def transition_stage(
        self, name: str, version: int | str, stage: str, *, archive_existing: bool = False
    ) -> ModelVersion:
        """Move a version to a legacy stage, optionally archiving the others in it, atomically.

        The model's row lock serialises transitions of one model, so two concurrent promotions
        with ``archive_existing`` leave exactly one version in the stage.
        """
        validation.check_name(name)
        number = check_version(version)
        stage = check_stage(stage)
        if archive_existing and stage not in ACTIVE_STAGES:
            raise InvalidInput(
                f"archive_existing needs an active stage ({', '.join(ACTIVE_STAGES)}), "
                f"not {stage!r}",
                field="archive_existing",
            )
        async with self.transaction() as conn:
            cur = await conn.execute(query("registry.touch_model"), self._args(name=name))
            row = await cur.fetchone()
            if row is None:
                raise model_not_found(name)
            args = {"model_id": row[0], "version": number, "stage": stage}
            cur = await conn.execute(query("registry.set_stage"), args)
            if await cur.fetchone() is None:
                raise version_not_found(name, number)
            if archive_existing:
                await conn.execute(query("registry.archive_stage"), args)
            return await self._fetch_version(conn, name, number)

    async def latest_versions(
        self, name: str, stages: Sequence[str] | None = None
    ) -> list[ModelVersion]:
        """The highest-numbered version in each of ``stages`` (all stages when None)."""
        validation.check_name(name)
        wanted = check_stages(stages)
        async with self.transaction() as conn:
            model_id = await self._model_id(conn, name)
            cur = await conn.execute(
                query("registry.latest_versions"), {"model_ids": [model_id], "stages": wanted}
            )
            return [version_from_row(row) for row in await cur.fetchall()]

    async def list_versions(
        self,
        name: str,
        *,
        stage: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """The versions of a model, newest first, optionally only those in ``stage``."""
        validation.check_name(name)
        stage = check_stage(stage) if stage is not None else None
        limit = check_limit(limit)
        before = MAX_VERSION + 1
        if page_token is not None:
            (before_key,) = decode_cursor(page_token, "versions", [int])
            before = int(before_key)  # type: ignore[arg-type]
        async with self.transaction() as conn:
            model_id = await self._model_id(conn, name)
            cur = await conn.execute(
                query("registry.list_versions"),
                {"model_id": model_id, "before": before, "stage": stage, "limit": limit + 1},
            )
            rows = await cur.fetchall()
        items = [version_from_row(row) for row in rows[:limit]]
        token = encode_cursor("versions", [items[-1].version]) if len(rows) > limit else None
        return Page(items=items, next_page_token=token)
