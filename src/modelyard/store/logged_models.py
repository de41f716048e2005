"""Logged models: create (PENDING), finalize (READY once the files are up, or FAILED), tags,
listing, and runs' model outputs and inputs (MLflow 3's LogOutputs and model inputs).

The files are run artifacts of the source run, uploaded between create and finalize; finalize
to READY checks that the metadata file is there, so a READY model always has its files.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, cast

from psycopg.rows import dict_row

from modelyard.errors import InvalidInput, InvalidState, NotFound, ParamConflict
from modelyard.sql import query
from modelyard.store import validation
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store.experiments import DEFAULT_WORKSPACE_ID, check_experiment_id
from modelyard.store.logged_model_records import (
    METADATA_FILE,
    LoggedModel,
    ModelInput,
    ModelMetricPoint,
    ModelOutput,
    check_label,
    check_metadata,
    check_model_id,
    model_from_row,
    new_model_id,
)
from modelyard.store.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from modelyard.store.run_data import check_params, check_tags, lock_writable_run
from modelyard.store.runs import MAX_USER_ID_LENGTH

_FINAL = ("READY", "FAILED")


def model_not_found(model_id: str) -> NotFound:
    return NotFound(f"logged model {model_id} does not exist", model_id=model_id)


class LoggedModels(Repository):
    """Logged models of one workspace."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def create(
        self,
        name: str,
        *,
        experiment_id: int | None = None,
        source_run_id: str | uuid.UUID | None = None,
        model_type: str | None = None,
        flavor: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        user_id: str | None = None,
    ) -> LoggedModel:
        """A new PENDING model; its files go to ``artifact_path`` of the source run.

        With a source run the experiment defaults to the run's and must be the run's.
        """
        name = cast(str, check_label(validation.check_name(name), "name"))
        model_type, flavor = check_label(model_type, "model_type"), check_label(flavor, "flavor")
        metadata_text = check_metadata(metadata)
        tag_keys, tag_values = check_tags(tags)
        param_keys, param_values = check_params(params)
        user_id = validation.check_optional_text(user_id, "user_id", MAX_USER_ID_LENGTH)
        run = None if source_run_id is None else validation.check_uuid(source_run_id)
        if experiment_id is None and run is None:
            raise InvalidInput("give an experiment_id or a source_run_id", field="experiment_id")
        model_id = new_model_id()
        async with self.transaction() as conn:
            if run is not None:
                state = await lock_writable_run(conn, run)
                if experiment_id is None:
                    experiment_id = state.experiment_id
                elif check_experiment_id(experiment_id) != state.experiment_id:
                    raise InvalidInput(
                        f"run {run.hex} belongs to experiment {state.experiment_id}, "
                        f"not {experiment_id}",
                        field="experiment_id",
                    )
            experiment_id = check_experiment_id(experiment_id)
            await self._lock_experiment(conn, experiment_id)
            await conn.execute(
                query("logged_models.insert"),
                {
                    "model_id": model_id,
                    "ws": self.workspace_id,
                    "experiment_id": experiment_id,
                    "name": name,
                    "model_type": model_type,
                    "source_run_id": run,
                    "artifact_path": f"models/{model_id}",
                    "flavor": flavor,
                    "metadata": metadata_text,
                    "user_id": user_id,
                },
            )
            pairs = {"model_id": model_id}
            if param_keys:
                await conn.execute(
                    query("logged_models.insert_params"),
                    {**pairs, "keys": param_keys, "values": param_values},
                )
            if tag_keys:
                await conn.execute(
                    query("logged_models.upsert_tags"),
                    {**pairs, "keys": tag_keys, "values": tag_values},
                )
            return await self._fetch(conn, model_id)

    async def get(self, model_id: str) -> LoggedModel:
        model_id = check_model_id(model_id)
        async with self.read() as conn:
            return await self._fetch(conn, model_id)

    async def get_many(self, model_ids: Sequence[str]) -> builtins.list[LoggedModel]:
        """The models that exist among ``model_ids`` (for hydrating a page), in that order."""
        ids = [check_model_id(m) for m in model_ids]
        async with self.read() as conn:
            rows = await _rows(
                conn, "logged_models.get", {"model_ids": ids, "ws": self.workspace_id}
            )
        found = {row["model_id"]: model_from_row(row) for row in rows}
        return [found[m] for m in ids if m in found]

    async def finalize(
        self, model_id: str, status: str, *, status_message: str | None = None
    ) -> LoggedModel:
        """Mark a PENDING model READY (its metadata file must be uploaded) or FAILED."""
        model_id = check_model_id(model_id)
        if status not in _FINAL:
            raise InvalidInput("status must be READY or FAILED", field="status")
        status_message = validation.check_optional_text(
            status_message, "status_message", validation.MAX_DESCRIPTION_LENGTH
        )
        async with self.transaction() as conn:
            rows = await _rows(conn, "logged_models.lock", self._args(model_id))
            if not rows:
                raise model_not_found(model_id)
            current, run_id, path = (
                rows[0]["status"],
                rows[0]["source_run_id"],
                rows[0]["artifact_path"],
            )
            if current != "PENDING" and current != status:
                raise InvalidState(
                    f"logged model {model_id} is {current}; only a PENDING model is finalized",
                    model_id=model_id,
                )
            if status == "READY" and run_id is not None:
                metadata_path = f"{path}/{METADATA_FILE}"
                found = await _rows(
                    conn, "logged_models.has_artifact", {"run_id": run_id, "path": metadata_path}
                )
                if not found[0]["exists"]:
                    raise InvalidState(
                        f"logged model {model_id} has no {metadata_path} among the artifacts of "
                        f"run {run_id.hex}; upload its files before marking it READY",
                        model_id=model_id,
                    )
            await conn.execute(
                query("logged_models.finalize"),
                {"model_id": model_id, "status": status, "status_message": status_message},
            )
            return await self._fetch(conn, model_id)

    async def set_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        model_id = check_model_id(model_id)
        keys, values = check_tags(tags)
        async with self.transaction() as conn:
            if not await _rows(conn, "logged_models.lock", self._args(model_id)):
                raise model_not_found(model_id)
            await conn.execute(
                query("logged_models.upsert_tags"),
                {"model_id": model_id, "keys": keys, "values": values},
            )

    async def delete_tag(self, model_id: str, key: str) -> None:
        model_id = check_model_id(model_id)
        key = validation.check_key(key, "tag key")
        async with self.transaction() as conn:
            if not await _rows(conn, "logged_models.lock", self._args(model_id)):
                raise model_not_found(model_id)
            if not await _rows(
                conn, "logged_models.delete_tag", {"model_id": model_id, "key": key}
            ):
                raise NotFound(f"logged model {model_id} has no tag {key!r}", key=key)

    async def list(
        self, experiment_id: int, *, limit: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> Page[LoggedModel]:
        """The active models of an experiment, newest first."""
        experiment_id = check_experiment_id(experiment_id)
        limit = check_limit(limit)
        after_created: dt.datetime | None = None
        after_id = ""
        if page_token is not None:
            micros, after_id_value = decode_cursor(page_token, "logged-models", [int, str])
            after_created = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
                microseconds=cast(int, micros)
            )
            after_id = cast(str, after_id_value)
        args = {
            "experiment_id": experiment_id,
            "ws": self.workspace_id,
            "after_created": after_created,
            "after_id": after_id,
            "limit": limit + 1,
        }
        async with self.read() as conn:
            ids = [row["model_id"] for row in await _rows(conn, "logged_models.list", args)]
            page_ids = ids[:limit]
            rows = await _rows(
                conn, "logged_models.get", {"model_ids": page_ids, "ws": self.workspace_id}
            )
            token = None
            if len(ids) > limit:
                created = await _rows(conn, "logged_models.created_at", {"model_id": page_ids[-1]})
                stamp = cast(dt.datetime, created[0]["created_at"])
                micros = (stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
                    microseconds=1
                )
                token = encode_cursor("logged-models", [micros, page_ids[-1]])
        by_id = {row["model_id"]: model_from_row(row) for row in rows}
        return Page(items=[by_id[m] for m in page_ids if m in by_id], next_page_token=token)

    async def log_outputs(self, run_id: str | uuid.UUID, outputs: Sequence[ModelOutput]) -> None:
        """Record that the run produced these models (each at a step; a repeat is a no-op)."""
        rid = validation.check_uuid(run_id)
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid)
            await write_model_outputs(conn, self.workspace_id, rid, outputs)

    async def log_inputs(self, run_id: str | uuid.UUID, inputs: Sequence[ModelInput]) -> None:
        """Record that the run took these logged models as inputs."""
        rid = validation.check_uuid(run_id)
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid)
            await write_model_inputs(conn, self.workspace_id, rid, inputs)

    async def outputs_of(
        self, run_ids: Sequence[str | uuid.UUID]
    ) -> dict[str, builtins.list[ModelOutput]]:
        """Each run's model outputs (32-hex id -> outputs), in one query."""
        ids = [validation.check_uuid(r) for r in run_ids]
        found: dict[str, builtins.list[ModelOutput]] = {rid.hex: [] for rid in ids}
        async with self.read() as conn:
            for row in await _rows(conn, "logged_models.outputs_of_runs", {"run_ids": ids}):
                found[row["run_id"].hex].append(
                    ModelOutput(model_id=row["model_id"], step=row["step"])
                )
        return found

    async def inputs_of(
        self, run_ids: Sequence[str | uuid.UUID]
    ) -> dict[str, builtins.list[ModelInput]]:
        """Each run's model inputs (32-hex id -> inputs), in one query."""
        ids = [validation.check_uuid(r) for r in run_ids]
        found: dict[str, builtins.list[ModelInput]] = {rid.hex: [] for rid in ids}
        async with self.read() as conn:
            for row in await _rows(conn, "logged_models.inputs_of_runs", {"run_ids": ids}):
                found[row["run_id"].hex].append(ModelInput(model_id=row["model_id"]))
        return found

    async def log_params(self, model_id: str, params: Mapping[str, str]) -> None:
        """Add params to a model; they are immutable, so a changed value is a ParamConflict."""
        model_id = check_model_id(model_id)
        keys, values = check_params(params)
        if not keys:
            return
        args = {"model_id": model_id, "keys": keys, "values": values}
        async with self.transaction() as conn:
            if not await _rows(conn, "logged_models.lock", self._args(model_id)):
                raise model_not_found(model_id)
            await conn.execute(query("logged_models.add_params"), args)
            clash = await _rows(conn, "logged_models.conflicting_params", args)
            if clash:
                key = clash[0]["key"]
                raise ParamConflict(
                    f"param {key!r} of logged model {model_id} is already "
                    f"{clash[0]['value']!r}; params cannot change",
                    key=key,
                )

    async def delete(self, model_id: str) -> None:
        """Mark a model deleted (its files and registrations stay); NotFound if already gone."""
        model_id = check_model_id(model_id)
        async with self.transaction() as conn:
            if not await _rows(conn, "logged_models.soft_delete", self._args(model_id)):
                raise model_not_found(model_id)

    # -- inside a transaction -------------------------------------------------------------------

    def _args(self, model_id: str) -> dict[str, Any]:
        return {"model_id": model_id, "ws": self.workspace_id}

    async def _fetch(self, conn: Conn, model_id: str) -> LoggedModel:
        rows = await _rows(
            conn, "logged_models.get", {"model_ids": [model_id], "ws": self.workspace_id}
        )
        if not rows:
            raise model_not_found(model_id)
        return model_from_row(rows[0])

    async def _lock_experiment(self, conn: Conn, experiment_id: int) -> None:
        rows = await _rows(conn, "logged_models.lock_experiment", {"experiment_id": experiment_id})
        if not rows or rows[0]["workspace_id"] != self.workspace_id:
            raise NotFound(
                f"experiment {experiment_id} does not exist", experiment_id=experiment_id
            )
        if rows[0]["lifecycle_stage"] != "active":
            raise InvalidState(
                f"experiment {experiment_id} is deleted", experiment_id=experiment_id
            )


async def _rows(conn: Conn, name: str, args: Mapping[str, Any]) -> builtins.list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query(name), args)
    return await cur.fetchall()


async def write_model_outputs(
    conn: Conn, workspace_id: int, run_id: uuid.UUID, outputs: Sequence[ModelOutput]
) -> None:
    """Insert a locked run's model outputs, in the caller's transaction."""
    ids = [check_model_id(o.model_id) for o in outputs]
    steps = [validation.check_int64(o.step, "step") for o in outputs]
    await _require_models(conn, workspace_id, ids)
    await conn.execute(
        query("logged_models.insert_outputs"), {"run_id": run_id, "model_ids": ids, "steps": steps}
    )


async def write_model_inputs(
    conn: Conn, workspace_id: int, run_id: uuid.UUID, inputs: Sequence[ModelInput]
) -> None:
    """Insert a locked run's model inputs, in the caller's transaction."""
    ids = [check_model_id(i.model_id) for i in inputs]
    await _require_models(conn, workspace_id, ids)
    await conn.execute(query("logged_models.insert_inputs"), {"run_id": run_id, "model_ids": ids})


# The longest dataset name and digest a model metric may name (a dataset version's bounds).
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 256


async def write_model_metrics(
    conn: Conn, workspace_id: int, run_id: uuid.UUID, points: Sequence[ModelMetricPoint]
) -> None:
    """Insert a locked run's metric points for logged models, in the caller's transaction.

    The points' keys, values, steps and timestamps are the run's own metric points, already
    checked; the model ids must name active models of the workspace (NotFound otherwise).
    """
    if not points:
        return
    columns: dict[str, builtins.list[Any]] = {
        "model_ids": [check_model_id(p.model_id) for p in points],
        "keys": [p.key for p in points],
        "values": [p.value for p in points],
        "steps": [p.step for p in points],
        "timestamps": [p.timestamp for p in points],
        "dataset_names": [
            validation.check_optional_text(p.dataset_name, "dataset_name", MAX_DATASET_NAME_LENGTH)
            for p in points
        ],
        "dataset_digests": [
            validation.check_optional_text(
                p.dataset_digest, "dataset_digest", MAX_DATASET_DIGEST_LENGTH
            )
            for p in points
        ],
    }
    missing = await _rows(
        conn,
        "logged_models.insert_metrics",
        {**columns, "run_id": run_id, "ws": workspace_id},
    )
    if missing:
        raise model_not_found(missing[0]["model_id"])


async def _require_models(conn: Conn, workspace_id: int, model_ids: Sequence[str]) -> None:
    if not model_ids:
        raise InvalidInput("models must not be empty", field="models")
    missing = await _rows(
        conn, "logged_models.missing_models", {"model_ids": list(model_ids), "ws": workspace_id}
    )
    if missing:
        raise model_not_found(missing[0]["model_id"])
