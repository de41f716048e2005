"""PostgreSQL blackholed, or 500 ms slower: requests fail with 503/504 within the deadline.

The server reaches PostgreSQL through the fault proxy. With ``--request-timeout 3``, a request
that cannot finish answers 504 ``DEADLINE_EXCEEDED`` (or 503) instead of hanging, and once the
network heals the pool is back to its baseline: every request succeeds again. Directly, and
through PgBouncer in front of the proxy (``route``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fault_proxy import FaultProxy
from fault_support import ServerProcess, proxied_database

pytestmark = pytest.mark.faults

DEADLINE = 3.0
# The client waits far longer than the server's deadline: a hang would show as a client timeout.
CLIENT_TIMEOUT = 60.0


@pytest.fixture
def proxied(
    database_url: str, route: str, tmp_path: Path
) -> Iterator[tuple[ServerProcess, FaultProxy]]:
    with proxied_database(database_url, route) as (through, route_args, proxy):
        server = ServerProcess(
            through,
            tmp_path,
            args=("--no-webhook-dispatcher", "--request-timeout", str(DEADLINE), *route_args),
        )
        server.start()
        try:
            yield server, proxy
        finally:
            proxy.heal()
            server.stop()


def _pool_size(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found = re.search(r"^modelyard_pool_size\{[^}]*\} ([0-9.]+)$", text, re.MULTILINE)
    assert found, text[:500]
    return float(found.group(1))


def _timed(http: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[int, float]:
    started = time.monotonic()
    response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response.status_code, time.monotonic() - started


@pytest.mark.parametrize("fault", ["blackhole", "latency"])
def test_a_hung_database_answers_within_the_deadline(
    proxied: tuple[ServerProcess, FaultProxy], fault: str, route: str
) -> None:
    server, proxy = proxied
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=CLIENT_TIMEOUT) as http:
        experiment = http.post("/experiments", json={"name": "hung"}).json()
        baseline = _pool_size(server)
        if fault == "blackhole":
            proxy.blackhole()
        else:
            proxy.latency(0.5)
        answers = [
            _timed(http, "POST", "/experiments", json={"name": f"during-{i}"}) for i in range(3)
        ] + [_timed(http, "GET", f"/experiments/{experiment['experiment_id']}") for _ in range(3)]
        proxy.heal()
        after = [
            http.get(f"/experiments/{experiment['experiment_id']}").status_code for _ in range(10)
        ]
        recovered_pool = _pool_size(server)
    statuses = [status for status, _ in answers]
    slowest = max(seconds for _, seconds in answers)
    print(
        f"\n{fault} to PostgreSQL ({route}): answers {statuses}, slowest {slowest:.2f} s "
        f"(deadline {DEADLINE} s), pool {baseline:g} -> {recovered_pool:g}, after heal {after}"
    )
    if fault == "blackhole":
        assert set(statuses) <= {503, 504}
    else:  # slower, not dead: a request either makes it or hits the deadline
        assert set(statuses) <= {200, 201, 503, 504}
    assert slowest < DEADLINE + 2, "a request outlived the deadline"
    assert set(after) == {200}
    assert recovered_pool <= max(baseline, 10)  # the default --pool-size
