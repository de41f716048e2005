"""The server is SIGKILLed in the middle of metric batches from 8 concurrent runs, and restarted.

The clients' buffers retry with their idempotency keys; afterwards PostgreSQL holds every point
exactly once: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fault_support import CountingClient, ServerProcess, stored_steps

from modelyard.client import ActiveRun

pytestmark = pytest.mark.faults

RUNS = 8
POINTS = 4000
BURST = 100


def test_a_killed_server_loses_and_duplicates_nothing(
    database_url: str,
    app_database_url: str,
    route: str,
    route_args: tuple[str, ...],
    tmp_path: Path,
) -> None:
    server = ServerProcess(app_database_url, tmp_path, args=route_args)
    server.start()
    clients = [CountingClient(server.url, timeout=10) for _ in range(RUNS)]
    try:
        experiment = clients[0].get_or_create_experiment("killed")
        runs = [
            ActiveRun(c, c.create_run(int(experiment["experiment_id"])), batch_size=200,
                      flush_interval=0.02)
            for c in clients
        ]
        errors: list[BaseException] = []

        def train(run: ActiveRun) -> None:
            try:
                for step in range(POINTS):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
                    if step % BURST == BURST - 1:
                        time.sleep(0.01)  # pacing, so the kill lands mid-stream
                run.end()
            except BaseException as exc:  # reported below, with the figures
                errors.append(exc)

        threads = [threading.Thread(target=train, args=(run,)) for run in runs]
        for thread in threads:
            thread.start()
        while sum(c.acknowledged for c in clients) < RUNS * POINTS // 4:
            time.sleep(0.01)
        acknowledged_before_kill = sum(c.acknowledged for c in clients)
        server.kill()
        server.start()
        for thread in threads:
            thread.join(240)
        assert not errors, errors

        stored = {run.id: stored_steps(database_url, run.id, "loss") for run in runs}
        total = sum(len(steps) for steps in stored.values())
        duplicated = total - sum(len(set(steps)) for steps in stored.values())
        lost = RUNS * POINTS - sum(len(set(steps)) for steps in stored.values())
        attempts = sum(c.attempts for c in clients)
        acknowledged = sum(c.acknowledged for c in clients)
        print(
            f"\nserver SIGKILL ({route}): sent {RUNS * POINTS} points, acknowledged {acknowledged} "
            f"({acknowledged_before_kill} before the kill), batch attempts {attempts}, "
            f"stored {total}, lost {lost}, duplicated {duplicated}"
        )
        assert attempts > acknowledged // 200, "no batch was retried: the kill missed"
        assert lost == 0 and duplicated == 0
        for steps in stored.values():
            assert steps == list(range(POINTS))
        statuses = {c.get_run(r.id)["status"] for c, r in zip(clients, runs, strict=True)}
        assert statuses == {"FINISHED"}
    finally:
        for client in clients:
            client.close()
        server.stop()
