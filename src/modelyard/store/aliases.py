"""Model aliases: named, movable pointers to one version of a model (``models:/name@champion``)."""

from __future__ import annotations

from typing import NoReturn

from modelyard.errors import NotFound
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Conn
from modelyard.store._registry_base import RegistryBase, reword, version_not_found
from modelyard.store.registry_records import (
    ModelVersion,
    check_alias,
    check_version,
    version_from_row,
)


def alias_not_found(name: str, alias: str) -> NotFound:
    return NotFound(
        f"alias {alias!r} of registered model {name!r} does not exist", name=name, alias=alias
    )


class Aliases(RegistryBase):
    """The alias operations of :class:`modelyard.store.registry.Registry`."""

    async def set_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version``, creating it or moving it in one statement."""
        validation.check_name(name)
        alias = check_alias(alias)
        number = check_version(version)
        with reword("model_alias_version_fk", version_not_found(name, number)):
            async with self.transaction() as conn:
                cur = await conn.execute(
                    query("registry.set_alias"),
                    self._args(name=name, alias=alias, version=number),
                )
                if await cur.fetchone() is None:
                    await self._model_id(conn, name)  # raises NotFound for the model

    async def delete_alias(self, name: str, alias: str) -> None:
        """Remove an alias; NotFound names the model or the alias that is missing."""
        validation.check_name(name)
        alias = check_alias(alias)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("registry.delete_alias"), self._args(name=name, alias=alias)
            )
            if await cur.fetchone() is None:
                await self._explain_missing_alias(conn, name, alias)

    async def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        """The version an alias points at: one indexed query on the hit path."""
        validation.check_name(name)
        alias = check_alias(alias)
        async with self.read() as conn:
            cur = await conn.execute(
                query("registry.version_by_alias"), self._args(name=name, alias=alias)
            )
            row = await cur.fetchone()
            if row is None:
                await self._explain_missing_alias(conn, name, alias)
            return version_from_row(row)

    async def _explain_missing_alias(self, conn: Conn, name: str, alias: str) -> NoReturn:
        await self._model_id(conn, name)  # raises NotFound for the model
        raise alias_not_found(name, alias)
