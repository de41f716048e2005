"""Garbage collection: purge what was deleted long ago, expired receipts and artifact bytes.

Deleting a run or an experiment is soft (``restore`` undoes it); ``modelyard gc`` makes it final
once the deletion is older than a grace period, and with the run go its artifacts. Logged
models deleted as long ago go with the files they own (their directory among their run's
artifacts), unless a model version is still registered from them; a deleted run whose logged
model a model version still uses is kept, because the version's files are that run's
artifacts (deleting the version frees it for the next gc). gc also drops the idempotency
receipts (of metric batches, and of the API's creating writes) once no client could still
retry them (a client gives up after minutes; the default TTL is a week), which would otherwise
grow by one row per flushed batch forever. Last, it removes the bytes of blobs nothing
references any more and abandoned partial uploads, in the configured artifact store and the
postgresql store (:mod:`modelyard.artifacts.gc` explains why that never races an upload).

Work goes in small batches, each its own transaction, so gc holds few locks at a time and can run
beside live traffic; a run restored while gc runs is never purged (the delete re-checks that it
is still deleted, and rows a restore holds are skipped).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import psycopg
import psycopg.conninfo
from psycopg import AsyncConnection

from modelyard.artifacts.gc import Purged, StoreReport, collect_store
from modelyard.artifacts.location import DEFAULT_STORE_URL
from modelyard.artifacts.store import open_backend
from modelyard.db.conninfo import with_schema
from modelyard.db.errors import translate
from modelyard.db.pool import open_pool
from modelyard.progress import NoProgress, Progress
from modelyard.sql import query
from modelyard.store._base import Pool

BATCH = 500
DEFAULT_UPLOADS_OLDER_THAN = dt.timedelta(hours=24)
APPLICATION_NAME = "modelyard gc"

Conn = AsyncConnection[tuple[object, ...]]


@dataclass(frozen=True)
class GcReport:
    """What was purged (or, in a dry run, would be)."""

    runs: int
    experiments: int
    receipts: int
    dry_run: bool
    logged_models: int = 0
    # Deleted runs kept because a model version uses their logged model's files.
    pinned_runs: int = 0
    stores: tuple[StoreReport, ...] = ()


async def collect(
    conninfo: str,
    schema: str,
    *,
    deleted_before: dt.datetime,
    receipts_before: dt.datetime,
    uploads_older_than: dt.timedelta = DEFAULT_UPLOADS_OLDER_THAN,
    artifact_store: str = DEFAULT_STORE_URL,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> GcReport:
    """Purge deletions older than ``deleted_before``, older receipts, and unreferenced bytes."""
    progress = progress or NoProgress()
    named = psycopg.conninfo.make_conninfo(conninfo, application_name=APPLICATION_NAME)
    try:
        async with await AsyncConnection.connect(
            with_schema(named, schema), autocommit=True
        ) as conn:
            rows = await _collect_rows(
                conn, deleted_before, receipts_before, dry_run, progress, batch
            )
            # A pool only because the postgresql backend reads through one; gc never reads.
            pool = await open_pool(named, schema, min_size=1, max_size=1)
            try:
                stores = await _collect_bytes(
                    conn, pool, artifact_store, uploads_older_than, rows, dry_run, progress
                )
            finally:
                await pool.close()
    except psycopg.Error as exc:
        raise translate(exc) from exc
    return GcReport(**rows.counts, dry_run=dry_run, stores=stores)


@dataclass
class _Rows:
    counts: dict[str, int]
    purged: Purged


async def _collect_rows(
    conn: Conn,
    deleted_before: dt.datetime,
    receipts_before: dt.datetime,
    dry_run: bool,
    progress: Progress,
    batch: int,
) -> _Rows:
    cutoff = {"cutoff": deleted_before}
    cur = await conn.execute(query("gc.count_expired_runs"), cutoff)
    counted = await cur.fetchone()
    expected_runs, pinned = (int(str(v)) for v in counted) if counted else (0, 0)
    receipts_params = {"cutoff": receipts_before}
    expected_receipts = await _count(conn, "gc.count_expired_receipts", receipts_params)
    if dry_run:
        cur = await conn.execute(query("gc.preview_runs"), cutoff)
        run_ids = [cast(uuid.UUID, row[0]) for row in await cur.fetchall()]
        cur = await conn.execute(query("gc.preview_logged_models"), cutoff)
        models = [(cast("uuid.UUID | None", r[1]), cast(str, r[2])) for r in await cur.fetchall()]
        counts = {
            "runs": expected_runs,
            "pinned_runs": pinned,
            "experiments": await _count(conn, "gc.count_expired_experiments", cutoff),
            "logged_models": len(models),
            "receipts": expected_receipts,
        }
        return _Rows(counts, Purged(run_ids=run_ids, model_dirs=models))
    runs = await _purge_runs(conn, cutoff, expected_runs, progress, batch)
    cur = await conn.execute(query("gc.purge_experiments"), cutoff)
    experiments = cur.rowcount
    logged_models = await _purge_logged_models(conn, cutoff, batch)
    receipts = await _purge_receipts(conn, receipts_params, expected_receipts, progress, batch)
    counts = {
        "runs": runs,
        "pinned_runs": pinned,
        "experiments": experiments,
        "logged_models": logged_models,
        "receipts": receipts,
    }
    return _Rows(counts, Purged())


async def _purge_runs(
    conn: Conn, cutoff: Mapping[str, object], expected: int, progress: Progress, batch: int
) -> int:
    runs = 0
    with progress.phase("purging deleted runs", expected) as advance:
        while True:
            async with conn.transaction():
                cur = await conn.execute(query("gc.expired_runs"), {**cutoff, "batch": batch})
                run_ids = [row[0] for row in await cur.fetchall()]
                if not run_ids:
                    return runs
                await conn.execute(query("gc.lock_run_models"), {"run_ids": run_ids})
                await conn.execute(query("gc.orphan_children"), {"run_ids": run_ids})
                cur = await conn.execute(query("gc.purge_runs"), {"run_ids": run_ids})
                purged = cur.rowcount
            runs += purged
            advance(purged)


async def _purge_logged_models(conn: Conn, cutoff: Mapping[str, object], batch: int) -> int:
    models = 0
    while True:
        async with conn.transaction():
            params = {**cutoff, "batch": batch}
            cur = await conn.execute(query("gc.expired_logged_models"), params)
            model_ids = [row[0] for row in await cur.fetchall()]
            if not model_ids:
                return models
            cur = await conn.execute(query("gc.purge_logged_models"), {"model_ids": model_ids})
            gone = await cur.fetchall()
            await conn.execute(
                query("gc.purge_model_files"),
                {"run_ids": [row[0] for row in gone], "paths": [row[1] for row in gone]},
            )
        models += len(gone)


async def _purge_receipts(
    conn: Conn, params: Mapping[str, object], expected: int, progress: Progress, batch: int
) -> int:
    receipts = 0
    with progress.phase("purging old receipts", expected) as advance:
        for purge in ("gc.purge_receipts", "gc.purge_idempotency_receipts"):
            while True:
                cur = await conn.execute(query(purge), {**params, "batch": batch * 10})
                if cur.rowcount <= 0:
                    break
                receipts += cur.rowcount
                advance(cur.rowcount)
    return receipts


async def _collect_bytes(
    conn: Conn,
    pool: Pool,
    artifact_store: str,
    uploads_older_than: dt.timedelta,
    rows: _Rows,
    dry_run: bool,
    progress: Progress,
) -> tuple[StoreReport, ...]:
    # The postgresql store is always collected: its bytes are in the database, so blobs left
    # there by a deployment that moved to another store are reachable from any gc.
    urls = [DEFAULT_STORE_URL] + ([artifact_store] if artifact_store != DEFAULT_STORE_URL else [])
    reports = []
    for url in urls:
        backend = open_backend(url, pool)
        try:
            reports.append(
                await collect_store(
                    conn,
                    backend,
                    uploads_older_than=uploads_older_than.total_seconds(),
                    dry_run=dry_run,
                    purged=rows.purged,
                    progress=progress,
                )
            )
        finally:
            await backend.close()
    return tuple(reports)


async def _count(conn: Conn, name: str, params: Mapping[str, object]) -> int:
    cur = await conn.execute(query(name), params)
    row = await cur.fetchone()
    return int(str(row[0])) if row else 0
