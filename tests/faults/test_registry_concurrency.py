"""The model registry under concurrent writers, through the real server (directly on PostgreSQL
and through PgBouncer in transaction mode).

- 8 writers register versions of one model at once: every request succeeds (no deadlock or
  serialization error reaches a client, no 5xx), and the numbers are 1..N, each once, with the
  model's counter at N.
- Aliases move between versions while readers resolve them without pause: every read answers
  200 with one of the versions (a reader never sees the alias missing), and afterwards the alias
  points at the version of the last move.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fault_support import ServerProcess, sql_rows

pytestmark = pytest.mark.faults

API = "/api/v1"
WRITERS = 8
VERSIONS_EACH = 25
MOVERS = 2
MOVES_EACH = 150
READERS = 4
ALIAS_TARGETS = 5


@pytest.fixture
def server(
    app_database_url: str, route_args: tuple[str, ...], tmp_path: Path
) -> Iterator[ServerProcess]:
    process = ServerProcess(
        app_database_url, tmp_path, args=("--no-webhook-dispatcher", *route_args)
    )
    process.start()
    try:
        yield process
    finally:
        process.stop()


def _source(http: httpx.Client) -> str:
    """A version source inside the server's artifacts: a run's ``model`` folder."""
    experiment = http.post(f"{API}/experiments", json={"name": "registry"})
    assert experiment.status_code == 201, experiment.text
    run = http.post(f"{API}/runs", json={"experiment_id": experiment.json()["experiment_id"]})
    assert run.status_code == 201, run.text
    return f"runs:/{run.json()['run_id']}/model"


def _in_threads(count: int, work: object) -> None:
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        work(index)  # type: ignore[operator]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
        assert not thread.is_alive(), "a worker hung"


def test_concurrent_registrations_number_versions_without_gaps_or_errors(
    server: ServerProcess, database_url: str, route: str
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        source = _source(http)
        assert http.post(f"{API}/models", json={"name": "m"}).status_code == 201
    statuses: Counter[int] = Counter()
    numbers: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def register(_: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for _ in range(VERSIONS_EACH):
                response = http.post(f"{API}/models/m/versions", json={"source": source})
                with lock:
                    statuses[response.status_code] += 1
                    if response.status_code == 201:
                        numbers.append(int(response.json()["version"]))
                    else:
                        failures.append(response.text[:300])

    _in_threads(WRITERS, register)
    total = WRITERS * VERSIONS_EACH
    stored = [
        int(row[0])
        for row in sql_rows(
            database_url,
            "SELECT v.version FROM model_version v JOIN registered_model m USING (model_id)"
            " WHERE m.name = 'm' ORDER BY v.version",
        )
    ]
    counter = sql_rows(database_url, "SELECT last_version FROM registered_model WHERE name = 'm'")
    print(
        f"\nregistry writers ({route}): {WRITERS} writers x {VERSIONS_EACH} = {total} requests,"
        f" statuses {dict(statuses)}, versions stored {len(stored)}"
        f" (1..{max(stored, default=0)}, {len(set(stored))} distinct), counter {counter[0][0]}"
    )
    assert not failures, failures[:3]
    assert sorted(numbers) == list(range(1, total + 1)), "numbers answered: a gap or a repeat"
    assert stored == list(range(1, total + 1))
    assert counter[0][0] == total


def test_readers_never_see_a_missing_alias_while_it_moves(
    server: ServerProcess, database_url: str, route: str
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        source = _source(http)
        assert http.post(f"{API}/models", json={"name": "m"}).status_code == 201
        for _ in range(ALIAS_TARGETS):
            created = http.post(f"{API}/models/m/versions", json={"source": source})
            assert created.status_code == 201, created.text
        moved = http.put(f"{API}/models/m/aliases/prod", json={"version": 1})
        assert moved.status_code == 200, moved.text
    moving = threading.Event()
    moving.set()
    lock = threading.Lock()
    moves: Counter[int] = Counter()
    reads: Counter[int] = Counter()
    seen: Counter[int] = Counter()
    bad: list[str] = []
    last_move: dict[int, int] = {}

    def move(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for i in range(MOVES_EACH):
                target = (index + i) % ALIAS_TARGETS + 1
                response = http.put(f"{API}/models/m/aliases/prod", json={"version": target})
                with lock:
                    moves[response.status_code] += 1
                    if response.status_code != 200:
                        bad.append(f"move: {response.status_code} {response.text[:200]}")
                    last_move[index] = target

    def read(_: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            while moving.is_set():
                response = http.get(f"{API}/models/m/aliases/prod")
                with lock:
                    reads[response.status_code] += 1
                    if response.status_code == 200:
                        seen[int(response.json()["version"])] += 1
                    else:
                        bad.append(f"read: {response.status_code} {response.text[:200]}")

    movers_done = 0

    def work(index: int) -> None:
        nonlocal movers_done
        if index >= MOVERS:
            read(index)
            return
        try:
            move(index)
        finally:
            with lock:
                movers_done += 1
                if movers_done == MOVERS:
                    moving.clear()

    _in_threads(MOVERS + READERS, work)
    final = sql_rows(
        database_url,
        "SELECT a.version FROM model_alias a JOIN registered_model m USING (model_id)"
        " WHERE m.name = 'm' AND a.alias = 'prod'",
    )
    print(
        f"\nalias moves during reads ({route}): {sum(moves.values())} moves {dict(moves)},"
        f" {sum(reads.values())} reads {dict(reads)}, versions seen {dict(sorted(seen.items()))}"
    )
    assert not bad, bad[:3]
    assert set(seen) <= set(range(1, ALIAS_TARGETS + 1))
    assert sum(reads.values()) > 0
    assert len(final) == 1 and final[0][0] in {last_move[i] for i in range(MOVERS)}
