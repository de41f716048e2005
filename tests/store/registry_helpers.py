"""Helpers of the registry tests: plain-SQL rows the registry depends on, and table snapshots."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import sql

from modelyard.store import Store
from pool_support import pooled

REGISTRY_TABLES = (
    "registered_model",
    "registered_model_tag",
    "model_version",
    "model_version_tag",
    "model_alias",
)


async def insert_run(store: Store) -> str:
    """A run (and its experiment) written with plain SQL; returns its id in MLflow's hex form."""
    run_id = uuid.uuid4()
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "INSERT INTO experiment (name) VALUES (%s) RETURNING experiment_id",
            [f"exp-{run_id.hex[:8]}"],
        )
        row = await cur.fetchone()
        assert row is not None
        await conn.execute(
            "INSERT INTO run (run_id, experiment_id, name) VALUES (%s, %s, 'r')", [run_id, row[0]]
        )
    return run_id.hex


async def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every registry table, to show a failed call changed nothing."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with pooled(store.pool) as conn:
        for table in REGISTRY_TABLES:
            cur = await conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            found[table] = sorted(await cur.fetchall(), key=repr)
    return found


async def last_version(store: Store, name: str) -> int:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(
            "SELECT last_version FROM registered_model WHERE name = %s", [name]
        )
        row = await cur.fetchone()
        assert row is not None
        return int(str(row[0]))


async def count(store: Store, table: str) -> int:
    async with pooled(store.pool) as conn:
        cur = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        row = await cur.fetchone()
        assert row is not None
        return int(str(row[0]))
