"""Store-level metric ingest, no HTTP: where a regression in ``bench.run``'s ingest figure lives.

    python -m bench.store_ingest [--database-url URL] [--batch 10000] [--concurrency 1,4]

Times, per batch, the three layers below the server: validation (``to_batch``), the binary COPY
encoding (``staging_copy``), and a whole ``store.metrics.log`` (both plus the database: COPY
into staging and the ingest function). Then points/s of back-to-back ``log`` calls from 1 and N
concurrent tasks, each on its own run. Without ``--database-url`` it starts an embedded
PostgreSQL (the settings of bench.run) in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench._dataset import INGEST_KEYS, START_MS
from bench._postgres import embedded_postgres
from modelyard.db.conninfo import DEFAULT_SCHEMA
from modelyard.db.migrate import upgrade
from modelyard.store import Store
from modelyard.store._metric_columns import MetricBatch, to_batch
from modelyard.store._metric_copy import staging_copy
from modelyard.store.metrics import DEFAULT_CHUNK_POINTS


def make_batch(index: int, points: int, values: list[float]) -> MetricBatch:
    keys = list(INGEST_KEYS)
    per_key = points // len(keys)
    steps = [s for s in range(index * per_key, (index + 1) * per_key) for _ in keys]
    return MetricBatch(
        keys=keys * per_key,
        values=values[: len(steps)],
        steps=steps,
        timestamps=[START_MS + s * 100 for s in steps],
    )


def per_call_ms(operation: Callable[[int], object], calls: int) -> float:
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        operation(i)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


async def run(dsn: str, args: argparse.Namespace) -> None:
    upgrade(dsn, DEFAULT_SCHEMA)
    values = [random.Random(1).random() for _ in range(args.batch)]
    store = await Store.open(dsn, DEFAULT_SCHEMA, max_size=max(args.concurrency) + 1)
    try:
        experiment = await store.experiments.create(f"store-ingest-{time.time_ns()}")
        batches = [make_batch(i, args.batch, values) for i in range(20)]
        validate = per_call_ms(lambda i: to_batch(batches[i % 20]), 20)
        encode = per_call_ms(lambda i: staging_copy(batches[i % 20], DEFAULT_CHUNK_POINTS), 20)
        run = await store.runs.create(experiment.experiment_id, name="phases")
        log_ms = []
        for i in range(20):
            start = time.perf_counter()
            await store.metrics.log(run.run_id, make_batch(i, args.batch, values))
            log_ms.append((time.perf_counter() - start) * 1000)
        whole = statistics.median(log_ms[2:])
        print(f"batch of {args.batch:,} points, median ms per batch:")
        print(f"  validate (to_batch)        {validate:8.2f}")
        print(f"  encode (staging_copy)      {encode:8.2f}")
        database_ms = whole - validate - encode
        print(f"  store.metrics.log (all)    {whole:8.2f}   -> database ~{database_ms:.2f}")
        for tasks in args.concurrency:
            runs = [
                (await store.runs.create(experiment.experiment_id, name=f"c{tasks}-{i}")).run_id
                for i in range(tasks)
            ]
            points, seconds = await concurrent(store, runs, args.batch, values, args.seconds)
            print(
                f"  {tasks} task(s): {points / seconds:12,.0f} points/s"
                f" ({points:,} in {seconds:.1f} s)"
            )
    finally:
        await store.close()


async def concurrent(
    store: Store, runs: list[str], size: int, values: list[float], seconds: float
) -> tuple[int, float]:
    deadline = time.monotonic() + seconds
    done = [0]

    async def one(run_id: str) -> None:
        i = 0
        while time.monotonic() < deadline:
            # Await first: `done[0] += await ...` would read done[0] before the await and lose
            # the other tasks' increments made meanwhile.
            applied = await store.metrics.log(run_id, make_batch(i, size, values))
            done[0] += applied
            i += 1

    start = time.perf_counter()
    await asyncio.gather(*(one(r) for r in runs))
    return done[0], time.perf_counter() - start


@contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    with (
        tempfile.TemporaryDirectory(prefix="modelyard-store-bench-") as work,
        embedded_postgres(Path(work) / "pg") as pg,
    ):
        yield pg.create_database("bench_store")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.store_ingest", description=__doc__)
    p.add_argument("--database-url", help="an existing database (modelyard's schema is applied)")
    p.add_argument("--batch", type=int, default=10_000, help="points per batch")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4])
    args = p.parse_args()
    with database(args.database_url) as dsn:
        asyncio.run(run(dsn, args))


if __name__ == "__main__":
    main()
