"""Measures the metric store alone: ingest points/s, bytes per point on disk, history read time.

Usage: PYTHONPATH=src python bench/metric_store.py postgresql://postgres@127.0.0.1:55432/postgres
It creates (and drops) a scratch database on that server and prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid

import psycopg
from psycopg import sql

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_database
from modelyard.db.migrate import upgrade
from modelyard.store import Store
from modelyard.store._base import Repository
from modelyard.store.metrics import MetricBatch

KEYS, PER_BATCH, BATCHES = 10, 100_000, 10


def batch(number: int) -> MetricBatch:
    base = number * PER_BATCH // KEYS
    return MetricBatch(
        keys=[f"metric_{i % KEYS}" for i in range(PER_BATCH)],
        values=[((i * 7919) % 10007) / 10007.0 for i in range(PER_BATCH)],
        steps=[base + i // KEYS for i in range(PER_BATCH)],
        timestamps=[1_700_000_000_000 + number * PER_BATCH + i for i in range(PER_BATCH)],
    )


async def measure(dsn: str) -> dict[str, float]:
    store = await Store.open(dsn, DEFAULT_SCHEMA)
    try:
        async with Repository(store.pool).transaction() as conn:
            cur = await conn.execute(
                "INSERT INTO experiment (name) VALUES ('bench') RETURNING experiment_id"
            )
            experiment = (await cur.fetchone() or [0])[0]
            cur = await conn.execute(
                "INSERT INTO run (experiment_id, name) VALUES (%s, 'bench') RETURNING run_id",
                [experiment],
            )
            run = uuid.UUID(str((await cur.fetchone() or [""])[0])).hex
        batches = [batch(n) for n in range(BATCHES)]  # built up front: not part of the timing
        started = time.perf_counter()
        for one in batches:
            await store.metrics.log(run, one)
        ingest = time.perf_counter() - started
        async with Repository(store.pool).transaction() as conn:
            cur = await conn.execute(
                "SELECT pg_total_relation_size('metric_chunk')"
                " + pg_total_relation_size('metric_series')"
            )
            size = int((await cur.fetchone() or [0])[0])
        reads = []
        for _ in range(5):
            started = time.perf_counter()
            await store.metrics.history(run, "metric_0")
            reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        await store.metrics.history(run, "metric_0", max_points=1000)
        downsampled = time.perf_counter() - started
    finally:
        await store.close()
    points = KEYS * (PER_BATCH // KEYS) * BATCHES
    return {
        "points": points,
        "ingest_points_per_second": round(points / ingest),
        "bytes_per_point": round(size / points, 2),
        "history_100k_ms_best": round(min(reads) * 1000, 1),
        "history_100k_downsampled_1000_ms": round(downsampled * 1000, 1),
    }


def main(admin_dsn: str) -> None:
    name = f"modelyard_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        dsn = with_database(admin_dsn, name)
        upgrade(dsn, DEFAULT_SCHEMA)
        print(json.dumps(asyncio.run(measure(dsn))))
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


if __name__ == "__main__":
    main(sys.argv[1])
