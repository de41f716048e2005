"""Garbage collection on a real database: what is purged, what is kept, and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from modelyard.gc import collect
from modelyard.store import Store

SCHEMA = "ml_model_schema"
NOW = dt.datetime.now(dt.UTC)
MONTH_AGO = NOW - dt.timedelta(days=30)
WEEK_AGO = NOW - dt.timedelta(days=7)


def _sql(url: str, statement: str, params: dict[str, object] | None = None) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {SCHEMA}")
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def _backdate(url: str, table: str, column: str, days: int, key: str, value: object) -> None:
    _sql(
        url,
        f"UPDATE {table} SET {column} = now() - make_interval(days => %(days)s) "
        f"WHERE {key} = %(value)s",
        {"days": days, "value": value},
    )


async def _run_with_data(store: Store, experiment_id: int, **kwargs: object) -> str:
    run = await store.runs.create(experiment_id, **kwargs)  # type: ignore[arg-type]
    await store.runs.log_params(run.run_id, {"lr": "0.1"})
    await store.runs.set_tags(run.run_id, {"team": "a"})
    await store.metrics.log(
        run.run_id, [("loss", 0.5, 1, 1), ("loss", 0.4, 2, 2)], idempotency_key="k1"
    )
    return run.run_id


@pytest.mark.anyio
async def test_old_deletions_are_purged_and_everything_else_kept(
    store: Store, database_url: str
) -> None:
    exp = await store.experiments.create("kept")
    eid = exp.experiment_id
    old = await _run_with_data(store, eid)
    recent = await _run_with_data(store, eid)
    active = await _run_with_data(store, eid)
    child = await _run_with_data(store, eid, parent_run_id=old)
    await store.registry.create_model("m")
    version = await store.registry.create_version("m", "s3://m/1", run_id=old)
    for run_id in (old, recent):
        await store.runs.delete(run_id)
    _backdate(database_url, "run", "deleted_at", 40, "run_id", uuid.UUID(old))

    gone_exp = await store.experiments.create("gone")
    gone_run = await _run_with_data(store, gone_exp.experiment_id)
    await store.experiments.delete(gone_exp.experiment_id)
    _backdate(database_url, "run", "deleted_at", 40, "experiment_id", gone_exp.experiment_id)
    _backdate(database_url, "experiment", "deleted_at", 40, "experiment_id", gone_exp.experiment_id)

    report = await collect(
        database_url, SCHEMA, deleted_before=MONTH_AGO, receipts_before=WEEK_AGO, batch=1
    )
    assert (report.runs, report.experiments, report.dry_run) == (2, 1, False)

    remaining = {row[0].hex for row in _sql(database_url, "SELECT run_id FROM run")}
    assert remaining == {recent, active, child}
    for table in ("run_param", "run_tag", "metric_series", "metric_chunk", "ingest_receipt"):
        orphans = _sql(
            database_url,
            f"SELECT count(*) FROM {table} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM run r WHERE r.run_id = t.run_id)",
        )
        assert orphans == [(0,)], f"{table} kept rows of purged runs"
    assert (await store.runs.get(child)).parent_run_id is None
    kept_version = await store.registry.get_version("m", version.version)
    assert (kept_version.run_id, kept_version.source) == (None, "s3://m/1")
    listed = (await store.experiments.list(lifecycle="all")).items
    assert [e.name for e in listed] == ["Default", "kept"]
    assert gone_run not in remaining


@pytest.mark.anyio
async def test_receipts_expire_and_a_dry_run_changes_nothing(
    store: Store, database_url: str
) -> None:
    exp = await store.experiments.create("e")
    run_id = await _run_with_data(store, exp.experiment_id)
    await store.metrics.log(run_id, [("loss", 0.3, 3, 3)], idempotency_key="k2")
    _backdate(database_url, "ingest_receipt", "created_at", 10, "idempotency_key", "k1")
    await store.runs.delete(run_id)
    _backdate(database_url, "run", "deleted_at", 40, "run_id", uuid.UUID(run_id))

    dry = await collect(
        database_url, SCHEMA, deleted_before=MONTH_AGO, receipts_before=WEEK_AGO, dry_run=True
    )
    assert (dry.runs, dry.receipts, dry.dry_run) == (1, 1, True)
    assert len(_sql(database_url, "SELECT * FROM run")) == 1

    await store.runs.restore(run_id)  # restored before gc runs: never purged
    report = await collect(database_url, SCHEMA, deleted_before=MONTH_AGO, receipts_before=WEEK_AGO)
    assert (report.runs, report.receipts) == (0, 1)
    assert _sql(database_url, "SELECT idempotency_key FROM ingest_receipt") == [("k2",)]
    assert (await store.runs.get(run_id)).params == {"lr": "0.1"}


def test_gc_command(database_url: str) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelyard", "--database-url", database_url, "gc", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ.copy(),
            check=False,
        )

    dry = run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == (
        "would purge 0 run(s), 0 experiment(s), 0 logged model(s), 0 idempotency receipt(s)"
    )
    assert dry.stdout.splitlines()[1] == (
        "postgresql: would remove 0 blob(s) (0 B), 0 partial upload(s) (0 B)"
    )
    real = run("--older-than", "0", "--quiet")
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("purged 0 run(s)")
    bad = run("--older-than", "-1")
    assert bad.returncode == 2


@pytest.mark.anyio
async def test_gc_command_shows_blobs_with_sizes_and_json(store: Store, database_url: str) -> None:
    from modelyard.artifacts.postgres import PostgresBackend
    from modelyard.artifacts.store import ArtifactStore

    artifacts = ArtifactStore(store.pool, PostgresBackend(store.pool))
    exp = await store.experiments.create("cli")
    run_id = uuid.UUID((await store.runs.create(exp.experiment_id)).run_id)
    data = b"z" * 3000

    async def body() -> AsyncIterator[bytes]:
        yield data

    await artifacts.put(run_id, "a.bin", body())
    await artifacts.delete(run_id, "a.bin")
    digest = hashlib.sha256(data).hexdigest()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelyard", "gc", "--database-url", database_url, *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    dry = run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "postgresql: would remove 1 blob(s) (2.9 KiB)" in dry.stdout
    assert f"  blob {digest}  2.9 KiB" in dry.stdout.splitlines()
    as_json = run("--dry-run", "--json")
    assert as_json.returncode == 0, as_json.stderr
    shown = json.loads(as_json.stdout)
    assert shown["dry_run"] is True
    assert shown["stores"][0]["blobs"] == {
        "count": 1,
        "bytes": 3000,
        "items": [{"what": f"blob {digest}", "size": 3000}],
    }
    assert len(_sql(database_url, "SELECT * FROM artifact_blob")) == 1
    real = json.loads(run("--json").stdout)
    assert (real["dry_run"], real["stores"][0]["blobs"]["count"]) == (False, 1)
    assert _sql(database_url, "SELECT * FROM artifact_blob") == []
