"""What the audit log costs a bulk write: N runs, their params and a tag COPYed in one transaction.

    PYTHONPATH=src:. python -m bench.audit_commit [--database-url URL] [--runs 2000,20000]

Each run is four audited rows (the run, two params, a tag), written by the audit triggers at
COMMIT, so the COPYs and the COMMIT are timed apart: the COMMIT is the audit log's share. Every
size gets a fresh database. Without ``--database-url`` (an admin DSN that may create databases)
it starts an embedded PostgreSQL (the settings of bench.run) in a temporary directory.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench._dataset import search_runs
from bench._postgres import embedded_postgres
from bench._seed import MY_EXPERIMENT, MY_PARAMS, MY_RUNS, MY_SCOPE, MY_TAGS
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.db.migrate import upgrade


@contextmanager
def admin_dsn(database_url: str | None) -> Iterator[str]:
    if database_url:
        yield database_url
        return
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp)) as pg:
        yield pg.admin_dsn


def fresh_database(admin: str, name: str) -> str:
    with psycopg.connect(admin, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return make_conninfo(admin, dbname=name)


def one_transaction(dsn: str, runs: int) -> tuple[float, float, int]:
    """Seconds for the COPYs, seconds for the COMMIT, audit rows written."""
    with psycopg.connect(with_schema(dsn, DEFAULT_SCHEMA)) as conn, conn.cursor() as cur:
        cur.execute(MY_SCOPE)
        row = cur.execute(MY_EXPERIMENT, ["audit-bench"]).fetchone()
        assert row is not None
        conn.commit()
        seeded = list(search_runs(runs))
        started = time.perf_counter()
        with cur.copy(MY_RUNS) as copy:
            for r in seeded:
                copy.write_row(
                    (r.run_id, row[0], r.name, "FINISHED", r.start, r.end, "bench", "active")
                )
        with cur.copy(MY_PARAMS) as copy:
            for r in seeded:
                copy.write_row((r.run_id, "lr", r.lr))
                copy.write_row((r.run_id, "optimizer", r.optimizer))
        with cur.copy(MY_TAGS) as copy:
            for r in seeded:
                copy.write_row((r.run_id, "team", r.team))
        copied = time.perf_counter()
        conn.commit()
        committed = time.perf_counter()
        count = cur.execute("SELECT count(*) FROM audit_event").fetchone()
        assert count is not None
        return copied - started, committed - copied, int(count[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an admin DSN (default: embedded PostgreSQL)")
    parser.add_argument("--runs", default="2000,20000", help="comma-separated run counts")
    args = parser.parse_args()
    with admin_dsn(args.database_url) as admin:
        for runs in (int(n) for n in args.runs.split(",")):
            dsn = fresh_database(admin, f"audit_bench_{runs}")
            upgrade(dsn, DEFAULT_SCHEMA)
            copy_s, commit_s, rows = one_transaction(dsn, runs)
            print(
                f"{runs} runs ({rows} audit rows): COPY {copy_s:.2f} s, COMMIT {commit_s:.2f} s,"
                f" {1e6 * commit_s / max(rows, 1):.0f} us per audit row at commit",
                flush=True,
            )


if __name__ == "__main__":
    main()
