"""Datasets: immutable versions by content digest, and the versions runs read and wrote.

Logging a version is an upsert that never changes a stored row: the first logger of a
(name, digest) writes it, every later one (concurrent or not) gets that row back. Inputs and
outputs of a run are written under the run's shared lock, like params and tags, so they never
land on a run that is being deleted.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Sequence
from typing import Any, cast

from psycopg.rows import dict_row

from modelyard.errors import InvalidInput, NotFound
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store.dataset_records import (
    MAX_DATASETS_PER_BATCH,
    Dataset,
    DatasetInput,
    DatasetOutput,
    DatasetSpec,
    DatasetVersion,
    InputSpec,
    check_dataset_name,
    check_digest,
    check_input,
    check_spec,
    version_from_row,
)
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID
from modelyard.store.logged_model_records import ModelInput, ModelOutput
from modelyard.store.logged_models import write_model_inputs, write_model_outputs
from modelyard.store.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from modelyard.store.run_data import lock_writable_run

_MAX_ID = 2**63 - 1


def dataset_not_found(name: str) -> NotFound:
    return NotFound(f"dataset {name!r} does not exist", name=name)


def version_not_found(name: str, digest: str) -> NotFound:
    return NotFound(
        f"dataset {name!r} has no version with digest {digest!r}", name=name, digest=digest
    )


class Datasets(Repository):
    """Datasets and dataset versions of one workspace, and runs' dataset inputs and outputs."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def log_version(self, spec: DatasetSpec) -> DatasetVersion:
        """The version ``spec`` names, created (with the dataset) if it is new."""
        async with self.transaction() as conn:
            ((version, _),) = await self._upsert(conn, [spec])
            return version

    async def get(self, name: str) -> Dataset:
        name = check_dataset_name(name)
        async with self.read() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                query("datasets.get_dataset"), {"ws": self.workspace_id, "name": name}
            )
            row = await cur.fetchone()
        if row is None:
            raise dataset_not_found(name)
        return _dataset_from_row(row)

    async def list(
        self,
        *,
        name_like: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> Page[Dataset]:
        """Datasets in name order; ``name_like`` is a SQL LIKE pattern."""
        limit = check_limit(limit)
        if name_like is not None:
            name_like = validation.check_text(name_like, "name_like", 1000)
        after = ""
        if page_token is not None:
            (after_key,) = decode_cursor(page_token, "datasets", [str])
            after = cast(str, after_key)
        args = {"ws": self.workspace_id, "after": after, "name_like": name_like, "limit": limit + 1}
        async with self.read() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("datasets.list_datasets"), args)
            rows = await cur.fetchall()
        items = [_dataset_from_row(row) for row in rows[:limit]]
        token = encode_cursor("datasets", [items[-1].name]) if len(rows) > limit else None
        return Page(items=items, next_page_token=token)

    async def get_version(self, name: str, digest: str) -> DatasetVersion:
        name, digest = check_dataset_name(name), check_digest(digest)
        async with self.read() as conn:
            found = await self._versions(conn, [name], [digest])
            if not found:
                await self._explain_missing(conn, name, digest)
        return version_from_row(found[0])

    async def list_versions(
        self, name: str, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[DatasetVersion]:
        """The versions of a dataset, newest first."""
        name = check_dataset_name(name)
        limit = check_limit(limit)
        before = _MAX_ID
        if page_token is not None:
            (before_key,) = decode_cursor(page_token, "dataset-versions", [int])
            before = cast(int, before_key)
        async with self.transaction() as conn:
            dataset_id = await self._dataset_id(conn, name)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                query("datasets.list_versions"),
                {"dataset_id": dataset_id, "before": before, "limit": limit + 1},
            )
            rows = await cur.fetchall()
        items = [version_from_row(row) for row in rows[:limit]]
        token = None
        if len(rows) > limit:
            token = encode_cursor("dataset-versions", [rows[limit - 1]["dataset_version_id"]])
        return Page(items=items, next_page_token=token)

    async def log_inputs(
        self,
        run_id: str | uuid.UUID,
        inputs: Sequence[InputSpec],
        *,
        models: Sequence[ModelInput] = (),
    ) -> builtins.list[DatasetInput]:
        """Record that the run read these versions (logging each version first if it is new),
        and took these logged models, all in one transaction.

        Reading a version again in the same context is a no-op that keeps the first tags.
        """
        rid = validation.check_uuid(run_id)
        specs = _check_batch(inputs, InputSpec, allow_empty=bool(models))
        links = [check_input(spec) for spec in specs]
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid)
            versions = await self._upsert(conn, specs) if specs else []
            if versions:
                await conn.execute(
                    query("datasets.insert_inputs"),
                    {
                        "run_id": rid,
                        "version_ids": [version_id for _, version_id in versions],
                        "contexts": [context for context, _ in links],
                        "tags": [json.dumps(tags) for _, tags in links],
                    },
                )
            if models:
                await write_model_inputs(conn, self.workspace_id, rid, models)
        return [
            DatasetInput(dataset=version, context=context or None, tags=tags)
            for (version, _), (context, tags) in zip(versions, links, strict=True)
        ]

    async def log_outputs(
        self,
        run_id: str | uuid.UUID,
        outputs: Sequence[DatasetSpec],
        *,
        models: Sequence[ModelOutput] = (),
    ) -> builtins.list[DatasetOutput]:
        """Record that the run wrote these versions (logging each version first if it is new),
        and produced these logged models, all in one transaction."""
        rid = validation.check_uuid(run_id)
        specs = _check_batch(outputs, DatasetSpec, allow_empty=bool(models))
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid)
            versions = await self._upsert(conn, specs) if specs else []
            if versions:
                await conn.execute(
                    query("datasets.insert_outputs"),
                    {"run_id": rid, "version_ids": [version_id for _, version_id in versions]},
                )
            if models:
                await write_model_outputs(conn, self.workspace_id, rid, models)
        return [DatasetOutput(dataset=version) for version, _ in versions]

    async def inputs_of(
        self, run_ids: Sequence[str | uuid.UUID]
    ) -> dict[str, builtins.list[DatasetInput]]:
        """The dataset inputs of each run (32-hex id -> inputs, oldest first), in one query."""
        ids = _check_run_ids(run_ids)
        found: dict[str, builtins.list[DatasetInput]] = {rid.hex: [] for rid in ids}
        async with self.read() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("datasets.inputs_of_runs"), {"run_ids": ids})
            for row in await cur.fetchall():
                found[row["run_id"].hex].append(
                    DatasetInput(
                        dataset=version_from_row(row),
                        context=row["context"] or None,
                        tags=row["tags"],
                    )
                )
        return found

    async def outputs_of(
        self, run_ids: Sequence[str | uuid.UUID]
    ) -> dict[str, builtins.list[DatasetOutput]]:
        """The dataset outputs of each run (32-hex id -> outputs, oldest first), in one query."""
        ids = _check_run_ids(run_ids)
        found: dict[str, builtins.list[DatasetOutput]] = {rid.hex: [] for rid in ids}
        async with self.read() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("datasets.outputs_of_runs"), {"run_ids": ids})
            for row in await cur.fetchall():
                found[row["run_id"].hex].append(DatasetOutput(dataset=version_from_row(row)))
        return found

    # -- inside a transaction -------------------------------------------------------------------

    async def _upsert(
        self, conn: Conn, specs: Sequence[DatasetSpec]
    ) -> builtins.list[tuple[DatasetVersion, int]]:
        """The versions of ``specs`` in order, with their ids, inserting the missing ones.

        Three statements: insert missing dataset names, insert missing versions, read them all.
        The read is a new statement, so it sees rows that concurrent loggers committed while
        the inserts waited on them; that is why it is not folded into the inserts.
        """
        checked = [check_spec(spec) for spec in specs]
        names = [c[0] for c in checked]
        digests = [c[1] for c in checked]
        ws = self.workspace_id
        await conn.execute(query("datasets.insert_datasets"), {"ws": ws, "names": names})
        await conn.execute(
            query("datasets.insert_versions"),
            {
                "ws": ws,
                "names": names,
                "digests": digests,
                "source_types": [c[2] for c in checked],
                "sources": [c[3] for c in checked],
                "schemas": [c[4] for c in checked],
                "row_counts": [spec.row_count for spec in specs],
                "profiles": [c[5] for c in checked],
            },
        )
        rows = await self._versions(conn, names, digests)
        if len(rows) != len(specs):  # only if a version vanished between statements
            raise NotFound("a dataset version was deleted while it was being logged")
        return [(version_from_row(row), row["dataset_version_id"]) for row in rows]

    async def _versions(
        self, conn: Conn, names: Sequence[str], digests: Sequence[str]
    ) -> builtins.list[dict[str, Any]]:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            query("datasets.versions_by_keys"),
            {"ws": self.workspace_id, "names": list(names), "digests": list(digests)},
        )
        return await cur.fetchall()

    async def _dataset_id(self, conn: Conn, name: str) -> int:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query("datasets.get_dataset"), {"ws": self.workspace_id, "name": name})
        row = await cur.fetchone()
        if row is None:
            raise dataset_not_found(name)
        return cast(int, row["dataset_id"])

    async def _explain_missing(self, conn: Conn, name: str, digest: str) -> None:
        await self._dataset_id(conn, name)  # raises NotFound for the dataset
        raise version_not_found(name, digest)


def _check_batch(
    items: object, kind: type[DatasetSpec], *, allow_empty: bool = False
) -> builtins.list[Any]:
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise InvalidInput("datasets must be a list", field="datasets")
    if not items and not allow_empty:
        raise InvalidInput("datasets must not be empty", field="datasets")
    validation.check_batch_size(len(items), MAX_DATASETS_PER_BATCH, "datasets")
    for item in items:
        if not isinstance(item, kind):
            raise InvalidInput(f"each dataset must be a {kind.__name__}", field="datasets")
    return list(items)


def _check_run_ids(run_ids: Sequence[str | uuid.UUID]) -> builtins.list[uuid.UUID]:
    if isinstance(run_ids, str | bytes) or not isinstance(run_ids, Sequence):
        raise InvalidInput("run_ids must be a list", field="run_ids")
    validation.check_batch_size(len(run_ids), 1000, "run_ids")
    return list(dict.fromkeys(validation.check_uuid(r) for r in run_ids))


def _dataset_from_row(row: dict[str, Any]) -> Dataset:
    return Dataset(
        name=row["name"],
        creation_timestamp=row["created_ms"],
        last_updated_timestamp=row["updated_ms"],
        version_count=row["version_count"],
    )
