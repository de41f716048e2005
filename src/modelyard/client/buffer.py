"""Non-blocking metric logging: a bounded buffer flushed in the background in large batches.

Training code calls :meth:`MetricBuffer.add` and goes on; a sender thread ships batches of up to
``batch_size`` points (or whatever has gathered after ``flush_interval`` seconds) as one request.
Guarantees:

- Nothing is lost: a batch that fails for a transient reason (server or database unavailable,
  network, 502/503/504) is retried, with backoff, until ``retry_deadline`` passes; only then is
  it reported as an error. Any other error (a 4xx, or a 500 ``INTERNAL_ERROR``, which a retry
  would only repeat) is reported at once.
- Nothing is duplicated: each batch carries an idempotency key chosen once, so a retry of a batch
  the server did store (the answer was lost) is a no-op there.
- Memory stays bounded: when ``capacity`` points are waiting, ``add`` blocks (back-pressure)
  until the sender has made room, instead of growing without limit.
- Order: one sender, batches in order; a failing batch holds back later ones rather than
  overtaking them. Once a batch has failed for good the buffer sends nothing more: the error is
  raised by every later ``add``, ``flush`` and ``close``, and :attr:`pending` counts the points
  never stored (the failed batch and everything after it).

``flush()`` waits until everything added so far is stored; ``close()`` flushes and stops the thread.
Errors from the sender surface as the server's typed error.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from modelyard.errors import DatabaseUnavailable, ModelyardError

log = logging.getLogger(__name__)

# (keys, values, steps, timestamps, idempotency_key) -> None; raises on failure.
SendBatch = Callable[[list[str], list[float], list[int], list[int], str], None]


# Statuses that say "not now" rather than "not this": a gateway or the server is overloaded,
# restarting or timed out. A 500 is left out on purpose: it is a bug, and a retry repeats it.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the server or database was unavailable or timed out (502/503/504)."""
    if isinstance(exc, DatabaseUnavailable):  # includes the client's ServerUnreachable
        return True
    return isinstance(exc, ModelyardError) and exc.http_status in TRANSIENT_STATUSES


@dataclass
class _Batch:
    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __len__(self) -> int:
        return len(self.keys)


class MetricBuffer:
    """A bounded, background-flushed buffer of metric points for one run."""

    def __init__(
        self,
        send: SendBatch,
        *,
        batch_size: int = 10_000,
        capacity: int = 200_000,
        flush_interval: float = 1.0,
        retry_deadline: float = 300.0,
        max_backoff: float = 5.0,
    ) -> None:
        if not 0 < batch_size <= capacity:
            raise ValueError("need 0 < batch_size <= capacity")
        self._send = send
        self._batch_size = batch_size
        self._capacity = capacity
        self._flush_interval = flush_interval
        self._retry_deadline = retry_deadline
        self._max_backoff = max_backoff
        self._lock = threading.Condition()
        self._pending = _Batch()
        self._in_flight = 0  # points taken by the sender and not yet stored
        self._flush_requested = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modelyard-metrics", daemon=True)
        self._thread.start()

    # -- producer side -------------------------------------------------------------------------

    def add(self, key: str, value: float, step: int, timestamp: int) -> None:
        """Queue one point; blocks while the buffer is full."""
        with self._lock:
            self._raise_error()
            if self._closed:
                raise RuntimeError("metric buffer is closed")
            while len(self._pending) + self._in_flight >= self._capacity:
                self._lock.wait(0.5)
                self._raise_error()
            pending = self._pending
            pending.keys.append(key)
            pending.values.append(value)
            pending.steps.append(step)
            pending.timestamps.append(timestamp)
            if len(pending) >= self._batch_size:
                self._lock.notify_all()

    def flush(self, timeout: float | None = None) -> None:
        """Block until every point added before the call is stored (or raise the send error)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flush_requested = True
            self._lock.notify_all()
            while (len(self._pending) or self._in_flight) and self._error is None:
                if not self._thread.is_alive():
                    raise RuntimeError("metric sender thread stopped unexpectedly")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("metrics not flushed in time")
                self._lock.wait(0.5 if remaining is None else min(0.5, remaining))
            self._flush_requested = False
            self._raise_error()

    def close(self, timeout: float | None = None) -> None:
        """Flush, then stop the sender thread. Safe to call twice."""
        try:
            if not self._closed:
                self.flush(timeout)
        finally:
            with self._lock:
                self._closed = True
                self._lock.notify_all()
            self._thread.join(timeout=5)

    @property
    def pending(self) -> int:
        """Points added but not yet stored."""
        with self._lock:
            return len(self._pending) + self._in_flight

    @property
    def failed(self) -> BaseException | None:
        """The error that stopped the sender, if a batch failed for good."""
        with self._lock:
            return self._error

    def _raise_error(self) -> None:
        # Sticky: the failed batch is still pending, so nothing added later may be reported
        # as stored (or sent ahead of it).
        if self._error is not None:
            raise self._error

    # -- sender side ---------------------------------------------------------------------------

    def _take_batch(self) -> _Batch | None:
        """Wait for a batch worth sending; None once closed and drained."""
        with self._lock:
            deadline = time.monotonic() + self._flush_interval
            while True:
                size = len(self._pending)
                if size >= self._batch_size or (size and (self._flush_requested or self._closed)):
                    break
                if size and time.monotonic() >= deadline:
                    break
                if self._closed and not size:
                    return None
                self._lock.wait(max(0.0, deadline - time.monotonic()) if size else 0.5)
            pending = self._pending
            if len(pending) > self._batch_size:
                cut = self._batch_size
                batch = _Batch(
                    pending.keys[:cut],
                    pending.values[:cut],
                    pending.steps[:cut],
                    pending.timestamps[:cut],
                )
                del pending.keys[:cut], pending.values[:cut]
                del pending.steps[:cut], pending.timestamps[:cut]
            else:
                batch, self._pending = pending, _Batch()
            self._in_flight = len(batch)
            return batch

    def _deliver(self, batch: _Batch) -> None:
        """Send one batch, retrying transient failures with the same idempotency key."""
        started = time.monotonic()
        backoff = 0.1
        while True:
            try:
                self._send(
                    batch.keys, batch.values, batch.steps, batch.timestamps, batch.idempotency_key
                )
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() - started > self._retry_deadline:
                    raise
                log.warning(
                    "metric batch failed, retrying",
                    extra={"points": len(batch), "error": str(exc), "backoff": backoff},
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                self._deliver(batch)
            except BaseException as exc:  # handed to the producer, never swallowed
                with self._lock:
                    self._error = exc
                    self._hold_back(batch)
                    self._lock.notify_all()
                return  # later batches stay behind the failed one, unsent
            with self._lock:
                self._in_flight = 0
                self._lock.notify_all()

    def _hold_back(self, batch: _Batch) -> None:
        """Put a failed batch back in front of what was added since (lock held)."""
        later = self._pending
        batch.keys.extend(later.keys)
        batch.values.extend(later.values)
        batch.steps.extend(later.steps)
        batch.timestamps.extend(later.timestamps)
        self._pending = batch
        self._in_flight = 0
