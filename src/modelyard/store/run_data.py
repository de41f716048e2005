"""The run record, run hydration without N+1 queries, and the connection-level writers of params
and tags that ``Runs`` and any batch writer (metrics, MLflow's log-batch) compose in one
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, cast

import msgspec
from psycopg.rows import class_row

from modelyard.errors import InvalidInput, InvalidState, NotFound, ParamConflict
from modelyard.sql import query
from modelyard.store import validation as v
from modelyard.store._base import Conn
from modelyard.store._time import optional_ms, to_ms


class LatestMetric(msgspec.Struct, kw_only=True):
    """The latest point of one metric series of a run (from ``metric_series``)."""

    # Fields the API writes as a JSON number or "NaN"/"Infinity"/"-Infinity" (server/api/
    # _nonfinite.py), which the OpenAPI document states for them.
    wire_float_fields: ClassVar[tuple[str, ...]] = ("value",)

    value: float
    step: int
    timestamp: int


class Run(msgspec.Struct, kw_only=True):
    """A run with its params, tags and latest metrics; times are milliseconds since the epoch."""

    run_id: str
    experiment_id: int
    name: str
    status: str
    start_time: int
    end_time: int | None
    lifecycle_stage: str
    user_id: str | None
    artifact_uri: str | None
    parent_run_id: str | None
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, LatestMetric]


class RunState(msgspec.Struct, frozen=True, kw_only=True):
    """What a writer needs to know about a run it has locked."""

    run_id: uuid.UUID
    experiment_id: int
    status: str
    start_time_ms: int


@dataclass(frozen=True)
class _LockedRow:
    """A row of ``runs.lock_for_data`` / ``runs.lock_for_update``."""

    run_stage: str
    experiment_stage: str
    experiment_id: int
    status: str
    start_time: datetime


async def lock_run_row(conn: Conn, run_id: uuid.UUID, *, exclusive: bool) -> _LockedRow | None:
    """Lock the run's row (FOR NO KEY UPDATE when ``exclusive``, else FOR SHARE); None if absent."""
    name = "runs.lock_for_update" if exclusive else "runs.lock_for_data"
    cur = conn.cursor(row_factory=class_row(_LockedRow))
    await cur.execute(query(name), {"run_id": run_id})
    return await cur.fetchone()


async def load_runs(conn: Conn, run_ids: Sequence[uuid.UUID]) -> list[Run]:
    """The runs ``run_ids`` in the given order, with params, tags and latest metrics.

    One statement whatever the number of runs. Ids that do not exist (e.g. purged between a
    search and this call) are left out rather than failing the whole page.
    """
    if not run_ids:
        return []
    cur = await conn.execute(query("runs.load"), {"run_ids": list(run_ids)})
    return runs_from_rows(await cur.fetchall())


def runs_from_rows(rows: Sequence[tuple[object, ...]]) -> list[Run]:
    """The runs of ``runs.load`` rows (for a caller that ran the query in its own pipeline)."""
    return [_run_from_row(row) for row in rows]


async def lock_writable_run(conn: Conn, run_id: uuid.UUID, *, exclusive: bool = False) -> RunState:
    """Lock an active run of an active experiment for a write, or raise NotFound/InvalidState.

    ``exclusive`` is for changes to the run row itself (status, name, lifecycle); data writers
    (params, tags, metrics) take a shared lock and so run side by side.
    """
    row = await lock_run_row(conn, run_id, exclusive=exclusive)
    if row is None:
        raise run_not_found(run_id)
    if row.run_stage != "active":
        raise InvalidState(f"run {run_id.hex} is deleted", run_id=run_id.hex)
    if row.experiment_stage != "active":
        raise InvalidState(
            f"run {run_id.hex} belongs to a deleted experiment",
            run_id=run_id.hex,
            experiment_id=row.experiment_id,
        )
    return RunState(
        run_id=run_id,
        experiment_id=row.experiment_id,
        status=row.status,
        start_time_ms=to_ms(row.start_time),
    )


def check_params(params: Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    """Validated params as parallel key and value lists, ready for ``unnest``."""
    return _check_pairs(params, "params", v.MAX_BATCH_PARAMS, v.MAX_PARAM_VALUE_LENGTH)


def check_tags(tags: Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    """Validated tags as parallel key and value lists, ready for ``unnest``."""
    return _check_pairs(tags, "tags", v.MAX_BATCH_TAGS, v.MAX_TAG_VALUE_LENGTH)


async def write_params(conn: Conn, run_id: uuid.UUID, keys: list[str], values: list[str]) -> None:
    """Insert params; an existing key with another value raises ParamConflict.

    Call inside the transaction that locked the run; on ParamConflict the caller's transaction
    rolls back, so a batch is all-or-nothing. Logging the same value again is a no-op.
    """
    if not keys:
        return
    params = {"run_id": run_id, "keys": keys, "values": values}
    await conn.execute(query("runs.insert_params"), params)
    cur = await conn.execute(query("runs.conflicting_params"), params)
    conflicts = await cur.fetchall()
    if conflicts:
        key, old, new = (cast(str, part) for part in conflicts[0])
        raise ParamConflict(
            f"param {key!r} of run {run_id.hex} is already {old!r}; params are immutable and "
            f"cannot be changed to {new!r}",
            run_id=run_id.hex,
            key=key,
            old_value=old,
            new_value=new,
            conflicts=[{"key": k, "old_value": o, "new_value": n} for k, o, n in conflicts],
        )


async def write_tags(conn: Conn, run_id: uuid.UUID, keys: list[str], values: list[str]) -> None:
    """Insert or overwrite tags (tags, unlike params, are mutable)."""
    if keys:
        await conn.execute(
            query("runs.upsert_tags"), {"run_id": run_id, "keys": keys, "values": values}
        )


def run_not_found(run_id: uuid.UUID) -> NotFound:
    return NotFound(f"run {run_id.hex} does not exist", run_id=run_id.hex)


def _check_pairs(
    pairs: Mapping[str, str] | None, what: str, max_count: int, max_value_length: int
) -> tuple[list[str], list[str]]:
    if pairs is None:
        return [], []
    if not isinstance(pairs, Mapping):
        raise InvalidInput(f"{what} must be a mapping of key to value", field=what)
    v.check_batch_size(len(pairs), max_count, what)
    keys = [v.check_key(key, f"{what[:-1]} key") for key in pairs]
    values = [v.check_text(pairs[key], f"{what[:-1]} {key!r}", max_value_length) for key in keys]
    return keys, values


def _pairs(keys: object, values: object) -> dict[str, str]:
    key_list = cast(list[str] | None, keys) or []
    return dict(zip(key_list, cast(list[str] | None, values) or [], strict=True))


def _run_from_row(row: tuple[object, ...]) -> Run:
    parent = cast(uuid.UUID | None, row[9])
    metric_keys = cast(list[str] | None, row[14]) or []
    metric_values = cast(list[float], row[15] or [])
    metric_steps = cast(list[int], row[16] or [])
    metric_times = cast(list[int], row[17] or [])
    return Run(
        run_id=cast(uuid.UUID, row[0]).hex,
        experiment_id=cast(int, row[1]),
        name=cast(str, row[2]),
        status=cast(str, row[3]),
        start_time=cast(int, optional_ms(row[4])),
        end_time=optional_ms(row[5]),
        lifecycle_stage=cast(str, row[6]),
        user_id=cast(str | None, row[7]),
        artifact_uri=cast(str | None, row[8]),
        parent_run_id=parent.hex if parent else None,
        params=_pairs(row[10], row[11]),
        tags=_pairs(row[12], row[13]),
        metrics={
            key: LatestMetric(value=value, step=step, timestamp=timestamp)
            for key, value, step, timestamp in zip(
                metric_keys, metric_values, metric_steps, metric_times, strict=True
            )
        },
    )
