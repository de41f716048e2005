"""Latency sampling and ingest throughput, each bounded in requests and in time."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from bench._servers import HOST


def client(
    base_url: str, timeout: float = 300.0, headers: dict[str, str] | None = None
) -> httpx.Client:
    """A keep-alive client for one thread; refuses anything but the local servers.
    ``headers`` go with every request (an ``Authorization``, say)."""
    if not base_url.startswith(f"http://{HOST}:"):
        raise ValueError(f"benchmarks talk to {HOST} only, not {base_url}")
    return httpx.Client(
        base_url=base_url,
        timeout=timeout,
        headers=headers,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


@dataclass(frozen=True)
class Latency:
    """Milliseconds per operation over ``n`` timed calls (after the warm-up)."""

    n: int
    p50: float
    p95: float
    mean: float
    max: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency(
    operation: Callable[[], object], *, warmup: int, max_calls: int, max_seconds: float
) -> Latency:
    """Time ``operation`` until ``max_calls`` calls or ``max_seconds`` have passed (at least one).

    The warm-up is bounded by the same ``max_seconds``, so a slow operation cannot stretch it.
    """
    deadline = time.monotonic() + max_seconds
    for _ in range(warmup):
        operation()
        if time.monotonic() > deadline:
            break
    samples: list[float] = []
    deadline = time.monotonic() + max_seconds
    while len(samples) < max_calls and (not samples or time.monotonic() < deadline):
        start = time.perf_counter()
        operation()
        samples.append((time.perf_counter() - start) * 1000)
    return Latency(
        n=len(samples),
        p50=round(percentile(samples, 50), 3),
        p95=round(percentile(samples, 95), 3),
        mean=round(statistics.fmean(samples), 3),
        max=round(max(samples), 3),
    )


@dataclass(frozen=True)
class Throughput:
    threads: int
    points: int
    requests: int
    seconds: float

    @property
    def points_per_second(self) -> float:
        return self.points / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "points_per_second": round(self.points_per_second)}


# A batch source yields (send, points) for one thread: send posts one batch on that thread's
# client. Batches are encoded lazily, so a long run needs no gigabytes of prepared bodies.
BatchSource = Iterator[tuple[Callable[[httpx.Client], object], int]]


def throughput(
    base_url: str,
    sources: list[BatchSource],
    *,
    max_seconds: float,
    headers: dict[str, str] | None = None,
) -> Throughput:
    """Each thread sends its batches back to back until its source ends or time is up.

    Points count when their request has been answered; the clock stops when the last thread's
    last request returns, so a request in flight at the deadline counts with its full time.
    """
    totals = [(0, 0)] * len(sources)
    errors: list[BaseException] = []
    ready = threading.Barrier(len(sources) + 1)
    deadline = [0.0]

    def work(index: int, source: BatchSource) -> None:
        points = requests = 0
        with client(base_url, headers=headers) as http:
            ready.wait()
            try:
                for send, n in source:
                    if time.monotonic() >= deadline[0]:
                        break
                    send(http)
                    points += n
                    requests += 1
            except BaseException as error:
                errors.append(error)
        totals[index] = (points, requests)

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(sources)]
    for thread in threads:
        thread.start()
    deadline[0] = time.monotonic() + max_seconds
    start = time.perf_counter()
    ready.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return Throughput(
        threads=len(sources),
        points=sum(p for p, _ in totals),
        requests=sum(r for _, r in totals),
        seconds=round(elapsed, 3),
    )
