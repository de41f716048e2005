"""Measures lineage queries on a graph of 100,000 runs: p50/p95 of a depth-5 lineage, both ways,
and the plans (EXPLAIN ANALYZE) that show which indexes the recursive walks use.

The graph: PIPELINES pipelines of STAGES runs each. Run s of pipeline p reads the version p of
dataset stage-(s-1) (stage 0 reads raw@p<p>) in context training, plus one of 100 shared
reference versions in context validation, and writes version p of dataset stage-s; the last run
of each pipeline is registered as a version of one of 1,000 models. Upstream of a version and
downstream of a raw version are each a chain five runs deep. Each last run also logs a logged
model (source run and run output), which its model version names. Loaded with set-based SQL (the
store's writers would take minutes for 100,000 runs and measure nothing of interest here).

Usage: PYTHONPATH=src python -m bench.lineage [--pipelines 20000] [--samples 200] [--dsn DSN]
Without --dsn it starts the embedded PostgreSQL in a temporary directory. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_database, with_schema
from modelyard.db.migrate import upgrade
from modelyard.sql import query
from modelyard.store import Store

STAGES = 5
MODELS = 1000
REFERENCES = 100

# Bench-only bulk load; every statement is set-based over generate_series.
LOAD = [
    "INSERT INTO experiment (name) VALUES ('lineage-bench')",
    """INSERT INTO run (run_id, experiment_id, name, status, start_time, end_time)
       SELECT md5('run-' || p || '-' || s)::uuid, 1, 'p' || p || '-s' || s, 'FINISHED',
              now(), now()
       FROM generate_series(0, %(pipelines)s - 1) AS p, generate_series(0, 4) AS s""",
    """INSERT INTO dataset (name)
       SELECT 'stage-' || s FROM generate_series(0, 4) AS s
       UNION ALL SELECT 'raw' UNION ALL SELECT 'reference'""",
    """INSERT INTO dataset_version (dataset_id, digest, row_count)
       SELECT d.dataset_id, 'p' || p, 1000
       FROM dataset d, generate_series(0, %(pipelines)s - 1) AS p
       WHERE d.name <> 'reference'""",
    """INSERT INTO dataset_version (dataset_id, digest)
       SELECT d.dataset_id, 'r' || r FROM dataset d, generate_series(0, 99) AS r
       WHERE d.name = 'reference'""",
    """INSERT INTO run_input (run_id, dataset_version_id, context)
       SELECT md5('run-' || p || '-' || s)::uuid, dv.dataset_version_id, 'training'
       FROM generate_series(0, %(pipelines)s - 1) AS p CROSS JOIN generate_series(0, 4) AS s
       JOIN dataset d ON d.name = CASE WHEN s = 0 THEN 'raw' ELSE 'stage-' || (s - 1) END
       JOIN dataset_version dv ON dv.dataset_id = d.dataset_id AND dv.digest = 'p' || p""",
    """INSERT INTO run_input (run_id, dataset_version_id, context)
       SELECT md5('run-' || p || '-' || s)::uuid, dv.dataset_version_id, 'validation'
       FROM generate_series(0, %(pipelines)s - 1) AS p CROSS JOIN generate_series(0, 4) AS s
       JOIN dataset d ON d.name = 'reference'
       JOIN dataset_version dv ON dv.dataset_id = d.dataset_id AND dv.digest = 'r' || (p %% 100)""",
    """INSERT INTO run_output (run_id, dataset_version_id)
       SELECT md5('run-' || p || '-' || s)::uuid, dv.dataset_version_id
       FROM generate_series(0, %(pipelines)s - 1) AS p CROSS JOIN generate_series(0, 4) AS s
       JOIN dataset d ON d.name = 'stage-' || s
       JOIN dataset_version dv ON dv.dataset_id = d.dataset_id AND dv.digest = 'p' || p""",
    """INSERT INTO registered_model (name, last_version)
       SELECT 'model-' || m, ceil(%(pipelines)s::numeric / 1000)
       FROM generate_series(0, 999) AS m""",
    """INSERT INTO logged_model (model_id, experiment_id, name, source_run_id, status,
                                 artifact_path)
       SELECT 'm-' || md5('model-' || p), 1, 'clf-' || p, md5('run-' || p || '-4')::uuid,
              'READY', 'models/m-' || md5('model-' || p)
       FROM generate_series(0, %(pipelines)s - 1) AS p""",
    """INSERT INTO run_model_output (run_id, model_id, step)
       SELECT md5('run-' || p || '-4')::uuid, 'm-' || md5('model-' || p), 0
       FROM generate_series(0, %(pipelines)s - 1) AS p""",
    """INSERT INTO model_version (model_id, version, source, run_id, logged_model_id)
       SELECT rm.model_id, p / 1000 + 1, 'models:/m-' || md5('model-' || p),
              md5('run-' || p || '-4')::uuid, 'm-' || md5('model-' || p)
       FROM generate_series(0, %(pipelines)s - 1) AS p
       JOIN registered_model rm ON rm.name = 'model-' || (p %% 1000)""",
    """INSERT INTO model_alias (model_id, alias, version)
       SELECT model_id, 'champion', 1 FROM model_version WHERE version = 1""",
]


def load(dsn: str, pipelines: int) -> float:
    started = time.perf_counter()
    with psycopg.connect(with_schema(dsn, DEFAULT_SCHEMA)) as conn:
        # Rows take their workspace from the request scope: the default workspace's, here.
        conn.execute("SELECT set_config('modelyard.workspace', '1', true)")
        for statement in LOAD:
            conn.execute(statement, {"pipelines": pipelines})  # type: ignore[arg-type]
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - started


def explain(dsn: str, pipeline: int) -> dict[str, list[str]]:
    """The plans of both walks for one pipeline, as text lines."""
    start = uuid.UUID(bytes=bytes.fromhex(_md5(f"run-{pipeline}-4")))
    first = uuid.UUID(bytes=bytes.fromhex(_md5(f"run-{pipeline}-0")))
    plans: dict[str, list[str]] = {}
    with psycopg.connect(with_schema(dsn, DEFAULT_SCHEMA)) as conn:
        for name, begin in (("upstream_runs", start), ("downstream_runs", first)):
            statement = sql.SQL("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ") + sql.SQL(
                query(f"lineage.{name}")  # type: ignore[arg-type]
            )
            rows = conn.execute(statement, {"start": [begin], "max_depth": 6}).fetchall()
            plans[name] = [str(row[0]) for row in rows]
    return plans


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


async def measure(dsn: str, pipelines: int, samples: int) -> dict[str, Any]:
    store = await Store.open(dsn, DEFAULT_SCHEMA, min_size=1, max_size=2)
    chosen = random.Random(7).sample(range(pipelines), samples)
    timings: dict[str, list[float]] = {"upstream": [], "downstream": []}
    shapes: dict[str, tuple[int, int, int]] = {}
    try:
        for warm in chosen[:10]:  # connections, plans and caches warm before timing
            await store.lineage.graph(f"models:/model-{warm % MODELS}/{warm // MODELS + 1}")
        for p in chosen:
            for direction, uri in (
                ("upstream", f"models:/model-{p % MODELS}/{p // MODELS + 1}"),
                ("downstream", f"dataset:raw@p{p}"),
            ):
                started = time.perf_counter()
                graph = await store.lineage.graph(uri, depth=STAGES)
                timings[direction].append((time.perf_counter() - started) * 1000)
                runs = sum(1 for n in graph.nodes if n.kind == "run")
                shapes[direction] = (runs, len(graph.nodes), len(graph.edges))
                assert runs == STAGES and not graph.truncated, (uri, runs, graph.truncated)
    finally:
        await store.close()
    result: dict[str, Any] = {}
    for direction, values in timings.items():
        values.sort()
        runs, nodes, edges = shapes[direction]
        result[direction] = {
            "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(values[int(len(values) * 0.95) - 1], 2),
            "runs": runs,
            "nodes": nodes,
            "edges": edges,
        }
    return result


def run(dsn: str, pipelines: int, samples: int) -> dict[str, Any]:
    upgrade(dsn, DEFAULT_SCHEMA)
    seconds = load(dsn, pipelines)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return {
        "postgresql": str(row[0]) if row else "?",
        "runs": pipelines * STAGES,
        "load_seconds": round(seconds, 1),
        "samples": samples,
        "depth": STAGES,
        **asyncio.run(measure(dsn, pipelines, samples)),
        "plans": explain(dsn, pipelines // 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pipelines", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--dsn", help="admin DSN of a server to use (a scratch database)")
    args = parser.parse_args()
    name = f"modelyard_lineage_{uuid.uuid4().hex[:8]}"
    if args.dsn:
        admin = args.dsn
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            print(json.dumps(run(with_database(admin, name), args.pipelines, args.samples)))
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        return
    from bench._postgres import embedded_postgres

    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp)) as pg:
        dsn = pg.create_database(name)
        print(json.dumps(run(dsn, args.pipelines, args.samples), indent=1))


if __name__ == "__main__":
    main()
