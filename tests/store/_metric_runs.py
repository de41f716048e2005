"""Creates experiments and runs with plain SQL for the metric tests (independent of store.runs)."""

from __future__ import annotations

import uuid

from modelyard.store import Store
from pool_support import pooled


async def create_run(store: Store, *, deleted: bool = False) -> str:
    """A new run (in a new experiment); its id in MLflow's 32-hex form."""
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "INSERT INTO experiment (name) VALUES (%s) RETURNING experiment_id",
            [f"exp-{uuid.uuid4().hex[:12]}"],
        )
        row = await cur.fetchone()
        assert row is not None
        cur = await conn.execute(
            "INSERT INTO run (experiment_id, name, lifecycle_stage, deleted_at)"
            " VALUES (%s, 'run', %s, CASE WHEN %s THEN now() END) RETURNING run_id",
            [row[0], "deleted" if deleted else "active", deleted],
        )
        run = await cur.fetchone()
        assert run is not None
        return uuid.UUID(str(run[0])).hex


async def delete_run(store: Store, run_id: str) -> None:
    """Soft-delete a run the way the tracking store does (lifecycle_stage + deleted_at)."""
    async with pooled(store.pool) as conn:
        await conn.execute(
            "UPDATE run SET lifecycle_stage = 'deleted', deleted_at = now() WHERE run_id = %s",
            [uuid.UUID(run_id)],
        )


async def stored_counts(store: Store, run_id: str) -> tuple[int, int, int]:
    """(series rows, chunk rows, points in all chunks) of a run, read directly from the tables."""
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT (SELECT count(*) FROM metric_series WHERE run_id = %(r)s),"
            " (SELECT count(*) FROM metric_chunk WHERE run_id = %(r)s),"
            " (SELECT coalesce(sum(cardinality(steps)), 0) FROM metric_chunk WHERE run_id = %(r)s)",
            {"r": uuid.UUID(run_id)},
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])
