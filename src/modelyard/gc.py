"""Garbage collection: purge runs and experiments deleted long ago, and old ingest receipts.

Deleting a run or an experiment is soft (``restore`` undoes it); ``modelyard gc`` makes it final
once the deletion is older than a grace period. It also drops the idempotency receipts of metric
batches once no client could still retry them (a client gives up after minutes; the default keeps
them a week), which would otherwise grow by one row per flushed batch forever.

Work goes in small batches, each its own transaction, so gc holds few locks at a time and can run
beside live traffic; a run restored while gc runs is never purged (the delete re-checks that it
is still deleted, and rows a restore holds are skipped).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from modelyard.db.conninfo import with_schema
from modelyard.db.errors import driver_errors
from modelyard.progress import NoProgress, Progress
from modelyard.sql import query

BATCH = 500


@dataclass(frozen=True)
class GcReport:
    """What was purged (or, in a dry run, would be)."""

    runs: int
    experiments: int
    receipts: int
    dry_run: bool


@driver_errors()
def collect(
    conninfo: str,
    schema: str,
    *,
    deleted_before: dt.datetime,
    receipts_before: dt.datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> GcReport:
    """Purge runs and experiments deleted before ``deleted_before`` and older receipts."""
    progress = progress or NoProgress()
    cutoff = {"cutoff": deleted_before}
    with psycopg.connect(with_schema(conninfo, schema), autocommit=True) as conn:
        expected_runs = _count(conn, "gc.count_expired_runs", cutoff)
        expected_receipts = _count(conn, "gc.count_expired_receipts", {"cutoff": receipts_before})
        if dry_run:
            return GcReport(
                runs=expected_runs,
                experiments=_count(conn, "gc.count_expired_experiments", cutoff),
                receipts=expected_receipts,
                dry_run=True,
            )
        runs = 0
        with progress.phase("purging deleted runs", expected_runs) as advance:
            while True:
                with conn.transaction():
                    rows = conn.execute(query("gc.expired_runs"), {**cutoff, "batch": batch})
                    run_ids = [row[0] for row in rows.fetchall()]
                    if not run_ids:
                        break
                    conn.execute(query("gc.orphan_children"), {"run_ids": run_ids})
                    purged = conn.execute(query("gc.purge_runs"), {"run_ids": run_ids}).rowcount
                runs += purged
                advance(purged)
        experiments = conn.execute(query("gc.purge_experiments"), cutoff).rowcount
        receipts = 0
        with progress.phase("purging old ingest receipts", expected_receipts) as advance:
            while True:
                params = {"cutoff": receipts_before, "batch": batch * 10}
                purged = conn.execute(query("gc.purge_receipts"), params).rowcount
                if purged <= 0:
                    break
                receipts += purged
                advance(purged)
    return GcReport(runs=runs, experiments=experiments, receipts=receipts, dry_run=False)


def _count(
    conn: psycopg.Connection[tuple[object, ...]], name: str, params: Mapping[str, object]
) -> int:
    row = conn.execute(query(name), params).fetchone()
    return int(str(row[0])) if row else 0
