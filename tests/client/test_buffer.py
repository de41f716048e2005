"""The metric buffer alone: batching, back-pressure, retries without duplicates, errors."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from modelyard.client.buffer import MetricBuffer
from modelyard.errors import DatabaseUnavailable, InvalidInput, ModelyardError, error_from_dict


class FakeServer:
    """Stores batches by idempotency key, as the real server does; can fail on demand."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stored: dict[str, list[tuple[str, float, int, int]]] = {}
        self.calls = 0
        self.fail_next = 0  # transient failures to inject
        self.fail_after_store = 0  # store, then "lose the answer"
        self.gate = threading.Event()
        self.gate.set()

    def send(
        self, keys: list[str], values: list[float], steps: list[int], stamps: list[int], key: str
    ) -> None:
        self.gate.wait()
        with self.lock:
            self.calls += 1
            if self.fail_next:
                self.fail_next -= 1
                raise DatabaseUnavailable("server restarting")
            if key not in self.stored:
                self.stored[key] = list(zip(keys, values, steps, stamps, strict=True))
            if self.fail_after_store:
                self.fail_after_store -= 1
                raise DatabaseUnavailable("connection reset after commit")

    def points(self) -> list[tuple[str, float, int, int]]:
        with self.lock:
            return [p for batch in self.stored.values() for p in batch]


def test_points_are_sent_in_batches_of_at_most_batch_size() -> None:
    server = FakeServer()
    buffer = MetricBuffer(server.send, batch_size=100, capacity=1000, flush_interval=10)
    for step in range(1050):
        buffer.add("loss", step / 10, step, 1000 + step)
    buffer.close()
    assert sorted(p[2] for p in server.points()) == list(range(1050))
    assert all(len(batch) <= 100 for batch in server.stored.values())
    assert server.calls == len(server.stored) >= 11


def test_flush_interval_sends_a_partial_batch_without_close() -> None:
    server = FakeServer()
    buffer = MetricBuffer(server.send, batch_size=1000, capacity=5000, flush_interval=0.05)
    buffer.add("acc", 0.5, 1, 1)
    deadline = time.monotonic() + 5
    while not server.points() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.points() == [("acc", 0.5, 1, 1)]
    buffer.close()


def test_transient_failures_are_retried_with_the_same_key_and_nothing_is_duplicated() -> None:
    server = FakeServer()
    server.fail_next = 3
    server.fail_after_store = 2  # the server stored the batch but the answer was lost
    buffer = MetricBuffer(server.send, batch_size=50, capacity=500, flush_interval=0.01)
    for step in range(400):
        buffer.add("loss", float(step), step, step)
    buffer.close()
    steps = [p[2] for p in server.points()]
    assert sorted(steps) == list(range(400)), "every point exactly once"
    assert server.calls > len(server.stored)


def _waiting_in_add(thread: threading.Thread) -> bool:
    """Whether ``thread`` is inside ``MetricBuffer.add``, waiting on the buffer's condition."""
    frame = sys._current_frames().get(thread.ident or -1)
    names = []
    while frame is not None:
        names.append((Path(frame.f_code.co_filename).name, frame.f_code.co_name))
        frame = frame.f_back
    return ("buffer.py", "add") in names and any(name == "wait" for _, name in names)


def test_a_full_buffer_blocks_the_producer_until_the_sender_makes_room() -> None:
    server = FakeServer()
    server.gate.clear()  # the server hangs
    buffer = MetricBuffer(server.send, batch_size=10, capacity=30, flush_interval=0.01)
    added = 0

    def produce() -> None:
        nonlocal added
        for step in range(100):
            buffer.add("x", 1.0, step, step)
            added += 1

    producer = threading.Thread(target=produce)
    producer.start()
    # Seen waiting inside MetricBuffer.add, not guessed from a sleep: on a loaded machine the
    # producer may not even have started after any fixed delay.
    deadline = time.monotonic() + 30
    while not _waiting_in_add(producer):
        assert producer.is_alive(), "the producer finished: the full buffer did not block it"
        assert time.monotonic() < deadline, "the producer never blocked in add()"
        time.sleep(0.01)
    assert added <= 30, "the buffer grew past its capacity"
    server.gate.set()
    producer.join(timeout=10)
    buffer.close()
    assert added == 100
    assert len(server.points()) == 100


def test_a_permanent_error_surfaces_at_flush() -> None:
    def reject(*args: object) -> None:
        raise InvalidInput("metric key is invalid")

    buffer = MetricBuffer(reject, batch_size=5, capacity=50, flush_interval=0.01)
    buffer.add("bad", 1.0, 0, 0)
    with pytest.raises(InvalidInput, match="invalid"):
        buffer.flush(timeout=5)
    with pytest.raises(InvalidInput, match="invalid"):  # the batch is still not stored
        buffer.close()


def test_a_permanent_error_holds_back_every_later_batch() -> None:
    sent: list[list[int]] = []

    def refuse_the_second(
        keys: list[str], values: list[float], steps: list[int], stamps: list[int], key: str
    ) -> None:
        if 10 in steps:
            raise InvalidInput("step 10 refused")
        sent.append(steps)

    buffer = MetricBuffer(refuse_the_second, batch_size=10, capacity=100, flush_interval=10)
    for step in range(10):
        buffer.add("loss", 1.0, step, 0)
    buffer.flush(timeout=5)
    for step in range(10, 20):
        buffer.add("loss", 1.0, step, 0)
    with pytest.raises(InvalidInput):
        buffer.flush(timeout=5)
    # Nothing overtakes the failed batch: later points are refused, not sent.
    with pytest.raises(InvalidInput):
        buffer.add("loss", 1.0, 20, 0)
    with pytest.raises(InvalidInput):
        buffer.flush(timeout=5)
    with pytest.raises(InvalidInput):
        buffer.close()
    assert sent == [list(range(10))]
    assert buffer.pending == 10
    assert isinstance(buffer.failed, InvalidInput)


def test_an_internal_error_is_not_retried() -> None:
    calls = 0

    def fail(*args: object) -> None:
        nonlocal calls
        calls += 1
        body = {"error": {"code": "INTERNAL_ERROR", "message": "internal error", "details": {}}}
        raise error_from_dict(body, 500)

    buffer = MetricBuffer(fail, batch_size=5, capacity=50, flush_interval=0.01)
    buffer.add("loss", 1.0, 0, 0)
    with pytest.raises(ModelyardError, match="internal error"):
        buffer.flush(timeout=5)
    assert calls == 1


@pytest.mark.parametrize("code", ["DATABASE_UNAVAILABLE", "SERVER_UNREACHABLE"])
def test_unavailable_answers_are_retried(code: str) -> None:
    calls = 0

    def fail_twice(*args: object) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise error_from_dict({"error": {"code": code, "message": "down"}}, 503)

    buffer = MetricBuffer(fail_twice, batch_size=5, capacity=50, flush_interval=0.01)
    buffer.add("loss", 1.0, 0, 0)
    buffer.flush(timeout=10)
    buffer.close()
    assert calls == 3


def test_retries_stop_at_the_deadline_and_report_the_error() -> None:
    server = FakeServer()
    server.fail_next = 10**6
    buffer = MetricBuffer(
        server.send,
        batch_size=5,
        capacity=50,
        flush_interval=0.01,
        retry_deadline=0.3,
        max_backoff=0.05,
    )
    buffer.add("loss", 1.0, 0, 0)
    with pytest.raises(DatabaseUnavailable):
        buffer.flush(timeout=10)
    with pytest.raises(DatabaseUnavailable):
        buffer.close()


def test_adding_after_close_is_an_error() -> None:
    buffer = MetricBuffer(FakeServer().send)
    buffer.close()
    with pytest.raises(RuntimeError, match="closed"):
        buffer.add("x", 1.0, 0, 0)


def test_concurrent_producers_lose_nothing() -> None:
    server = FakeServer()
    buffer = MetricBuffer(server.send, batch_size=64, capacity=256, flush_interval=0.01)

    def produce(worker: int) -> None:
        for step in range(500):
            buffer.add(f"w{worker}", float(step), step, step)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buffer.close()
    points = server.points()
    assert len(points) == 2000
    for worker in range(4):
        assert sorted(p[2] for p in points if p[0] == f"w{worker}") == list(range(500))
