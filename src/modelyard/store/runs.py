"""Runs: create, read, list, status changes, soft delete/restore, params and tags.

Run lifecycle (``status``): a run starts RUNNING (or SCHEDULED) and ends FINISHED, FAILED or
KILLED. Like MLflow we allow any status to follow any other on an active run, because the mlflow
client resumes a finished run (``mlflow.start_run(run_id=...)``) by setting it RUNNING again, and a
client may correct a terminal status. What we add is consistency of ``end_time``: a terminal status
always has one (now, unless given), a non-terminal status never has one (reopening clears it), and
an ``end_time`` can only be given with, or to a run in, a terminal status.
"""

from __future__ import annotations

import builtins
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import cast

from modelyard.errors import InvalidInput, InvalidState, NotFound
from modelyard.sql import query
from modelyard.store import validation as v
from modelyard.store._base import Conn, Pool, Repository
from modelyard.store._time import from_ms, from_us, to_us
from modelyard.store.experiments import (
    DEFAULT_WORKSPACE_ID,
    LIFECYCLES,
    Lifecycle,
    check_experiment_id,
)
from modelyard.store.pagination import Page, check_limit, decode_cursor, encode_cursor, split_page
from modelyard.store.run_data import (
    Run,
    RunState,
    check_params,
    check_tags,
    load_runs,
    lock_run_row,
    lock_writable_run,
    run_not_found,
    write_params,
    write_tags,
)
from modelyard.store.run_names import generate_run_name

TERMINAL_STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})
STATUSES = frozenset({"RUNNING", "SCHEDULED"}) | TERMINAL_STATUSES
RUN_NAME_TAG = "mlflow.runName"
MAX_USER_ID_LENGTH = 256
MAX_EXPERIMENTS_PER_LIST = 1000
_PAGE_SCOPE = "runs"

# Runs inside log_batch's transaction after params and tags, with the locked run: the metrics
# writer plugs in here so MLflow's log-batch (metrics + params + tags) is one all-or-nothing write.
BatchHook = Callable[[Conn, RunState], Awaitable[None]]


class Runs(Repository):
    """Runs of the experiments of one workspace."""

    def __init__(self, pool: Pool, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        super().__init__(pool)
        self._outside_workspace_id = workspace_id

    async def create(
        self,
        experiment_id: int,
        *,
        name: str | None = None,
        start_time: int | None = None,
        tags: Mapping[str, str] | None = None,
        parent_run_id: str | uuid.UUID | None = None,
        user_id: str | None = None,
    ) -> Run:
        """A new RUNNING run in an active experiment.

        Without ``name`` the run takes the ``mlflow.runName`` tag if given, else a generated name.
        """
        experiment_id = check_experiment_id(experiment_id)
        tag_keys, tag_values = check_tags(tags)
        if name is None:
            name = (tags or {}).get(RUN_NAME_TAG) or generate_run_name()
        name = v.check_name(name)
        start = None if start_time is None else from_ms(start_time, "start_time")
        parent = None if parent_run_id is None else v.check_uuid(parent_run_id, "parent_run_id")
        user_id = v.check_optional_text(user_id, "user_id", MAX_USER_ID_LENGTH)
        run_id = uuid.uuid4()
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("runs.lock_experiment"), {"experiment_id": experiment_id}
            )
            row = await cur.fetchone()
            if row is None or row[1] != self.workspace_id:
                raise NotFound(
                    f"experiment {experiment_id} does not exist", experiment_id=experiment_id
                )
            if row[0] != "active":
                raise InvalidState(
                    f"cannot create a run in deleted experiment {experiment_id}",
                    experiment_id=experiment_id,
                )
            location = cast(str | None, row[2])
            await conn.execute(
                query("runs.insert"),
                {
                    "run_id": run_id,
                    "experiment_id": experiment_id,
                    "workspace_id": self.workspace_id,
                    "name": name,
                    "start_time": start,
                    "parent_run_id": parent,
                    "user_id": user_id,
                    "artifact_uri": _artifact_uri(location, run_id),
                },
            )
            await write_tags(conn, run_id, tag_keys, tag_values)
            (run,) = await load_runs(conn, [run_id])
            return run

    async def get(self, run_id: str | uuid.UUID) -> Run:
        """The run with params, tags and latest metrics; deleted runs are returned too."""
        rid = v.check_uuid(run_id)
        async with self.transaction() as conn:
            runs = await load_runs(conn, [rid])
        if not runs:
            raise run_not_found(rid)
        return runs[0]

    async def update(
        self,
        run_id: str | uuid.UUID,
        *,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Run:
        """Change status, end time and/or name (see the module docstring for the rules)."""
        rid = v.check_uuid(run_id)
        if status is not None and status not in STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(sorted(STATUSES))}", field="status"
            )
        end = None if end_time is None else from_ms(end_time, "end_time")
        name = None if name is None else v.check_name(name)
        async with self.transaction() as conn:
            state = await lock_writable_run(conn, rid, exclusive=True)
            new_status = status or state.status
            if end is not None and new_status not in TERMINAL_STATUSES:
                # Given with a non-terminal status, the body contradicts itself (a 400; the
                # OpenAPI document states the rule); without one, the stored status decides.
                error = InvalidInput if status is not None else InvalidState
                raise error(
                    f"end_time needs a terminal status, and the run would be {new_status}",
                    field="end_time",
                )
            if end is not None and end_time is not None and end_time < state.start_time_ms:
                # Against the stored start, not the body: a conflict (409), like the CHECK
                # constraint run_end_time_ck that would refuse it anyway.
                raise InvalidState(
                    f"end_time {end_time} is before the run's start_time {state.start_time_ms}",
                    field="end_time",
                    start_time=state.start_time_ms,
                )
            if end is not None or status is not None:
                # Terminal without a given end: end now; non-terminal: no end (reopened).
                end_now = end is None and new_status in TERMINAL_STATUSES
                keep_end = False
            else:  # only a rename: leave status and end_time as they are
                end_now, keep_end = False, True
            await conn.execute(
                query("runs.update"),
                {
                    "run_id": rid,
                    "status": new_status,
                    "name": name,
                    "end_now": end_now,
                    "keep_end": keep_end,
                    "end_time": end,
                },
            )
            (run,) = await load_runs(conn, [rid])
            return run

    async def delete(self, run_id: str | uuid.UUID) -> None:
        """Soft delete: the run becomes 'deleted' and refuses writes until restored."""
        rid = v.check_uuid(run_id)
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid, exclusive=True)
            await conn.execute(
                query("runs.set_lifecycle"), {"run_id": rid, "lifecycle_stage": "deleted"}
            )

    async def restore(self, run_id: str | uuid.UUID) -> None:
        """Undo :meth:`delete`; a run of a deleted experiment needs the experiment restored."""
        rid = v.check_uuid(run_id)
        async with self.transaction() as conn:
            row = await lock_run_row(conn, rid, exclusive=True)
            if row is None:
                raise run_not_found(rid)
            if row.run_stage != "deleted":
                raise InvalidState(f"run {rid.hex} is not deleted", run_id=rid.hex)
            if row.experiment_stage != "active":
                raise InvalidState(
                    f"run {rid.hex} belongs to a deleted experiment; restore the experiment",
                    run_id=rid.hex,
                    experiment_id=row.experiment_id,
                )
            await conn.execute(
                query("runs.set_lifecycle"), {"run_id": rid, "lifecycle_stage": "active"}
            )

    async def log_params(self, run_id: str | uuid.UUID, params: Mapping[str, str]) -> None:
        """Log params (immutable: same value again is fine, another value is ParamConflict)."""
        await self.log_batch(run_id, params=params)

    async def set_tags(self, run_id: str | uuid.UUID, tags: Mapping[str, str]) -> None:
        """Set tags, overwriting existing values."""
        await self.log_batch(run_id, tags=tags)

    async def append_to_list_tag(self, run_id: str | uuid.UUID, key: str, item: object) -> None:
        """Append ``item`` to the JSON list held in tag ``key`` (a new list if it is not set).

        The run's row lock serialises appenders, so concurrent appends all land. A tag that holds
        something else than a JSON list is InvalidState: overwriting it would lose its value.
        """
        rid = v.check_uuid(run_id)
        key = v.check_key(key, "tag key")
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid, exclusive=True)
            cur = await conn.execute(query("runs.tag_value"), {"run_id": rid, "key": key})
            row = await cur.fetchone()
            items: object = []
            if row is not None:
                try:
                    items = json.loads(cast(str, row[0]))
                except ValueError:
                    items = None
            if not isinstance(items, list):
                raise InvalidState(
                    f"tag {key!r} of run {rid.hex} does not hold a JSON list",
                    run_id=rid.hex,
                    key=key,
                )
            items.append(item)
            keys, values = check_tags({key: json.dumps(items)})
            await write_tags(conn, rid, keys, values)

    async def delete_tag(self, run_id: str | uuid.UUID, key: str) -> None:
        """Remove a tag; a key that is not set is NotFound."""
        rid = v.check_uuid(run_id)
        key = v.check_key(key, "tag key")
        async with self.transaction() as conn:
            await lock_writable_run(conn, rid)
            cur = await conn.execute(query("runs.delete_tag"), {"run_id": rid, "key": key})
            if await cur.fetchone() is None:
                raise NotFound(f"run {rid.hex} has no tag {key!r}", run_id=rid.hex, key=key)

    async def log_batch(
        self,
        run_id: str | uuid.UUID,
        *,
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        metrics_hook: BatchHook | None = None,
    ) -> None:
        """Params and tags (and, through ``metrics_hook``, metrics) in one transaction.

        Everything is validated before any SQL runs, and any failure rolls the whole batch back.
        """
        rid = v.check_uuid(run_id)
        param_keys, param_values = check_params(params)
        tag_keys, tag_values = check_tags(tags)
        async with self.transaction() as conn:
            state = await lock_writable_run(conn, rid)
            await write_params(conn, rid, param_keys, param_values)
            await write_tags(conn, rid, tag_keys, tag_values)
            if metrics_hook is not None:
                await metrics_hook(conn, state)

    async def list(
        self,
        experiment_ids: Sequence[int],
        *,
        lifecycle: Lifecycle = "active",
        limit: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Runs of the experiments, newest start_time first (ties by run_id), hydrated."""
        ids = _check_experiment_ids(experiment_ids)
        if lifecycle not in LIFECYCLES:
            raise InvalidInput("lifecycle must be 'active', 'deleted' or 'all'", field="lifecycle")
        limit = check_limit(limit)
        after_start, after_run_id = _decode_run_cursor(page_token)
        async with self.transaction() as conn:
            cur = await conn.execute(
                query("runs.list"),
                {
                    "experiment_ids": ids,
                    "workspace_id": self.workspace_id,
                    "lifecycle": lifecycle,
                    "after_start": after_start,
                    "after_run_id": after_run_id,
                    "limit": limit + 1,
                },
            )
            rows, last = split_page(await cur.fetchall(), limit)
            runs = await load_runs(conn, [cast(uuid.UUID, row[0]) for row in rows])
        token = None
        if last is not None:
            last_start, last_id = cast(datetime, last[1]), cast(uuid.UUID, last[0])
            token = encode_cursor(_PAGE_SCOPE, [to_us(last_start), last_id.hex])
        return Page(items=runs, next_page_token=token)


def _check_experiment_ids(experiment_ids: Sequence[int]) -> builtins.list[int]:
    if isinstance(experiment_ids, str | bytes) or not isinstance(experiment_ids, Sequence):
        raise InvalidInput("experiment_ids must be a list", field="experiment_ids")
    v.check_batch_size(len(experiment_ids), MAX_EXPERIMENTS_PER_LIST, "experiment_ids")
    return [check_experiment_id(value) for value in experiment_ids]


def _decode_run_cursor(page_token: str | None) -> tuple[datetime | None, uuid.UUID | None]:
    if page_token is None:
        return None, None
    start_us, run_hex = decode_cursor(page_token, _PAGE_SCOPE, (int, str))
    try:
        return from_us(cast(int, start_us)), uuid.UUID(cast(str, run_hex))
    except (OverflowError, ValueError):
        raise InvalidInput(
            "page_token is not a valid page token for this listing", field="page_token"
        ) from None


def _artifact_uri(experiment_location: str | None, run_id: uuid.UUID) -> str | None:
    """MLflow's layout: ``<experiment artifact location>/<run id>/artifacts``."""
    if experiment_location is None:
        return None
    return f"{experiment_location.rstrip('/')}/{run_id.hex}/artifacts"
