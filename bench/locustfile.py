"""The mixed load of ``bench/load.py``: training clients, people browsing, registry readers.

Run by locust (in a venv of its own: it pins gevent and flask), never imported by modelyard.
It needs only locust and the standard library. What the data set holds comes in environment
variables from ``bench/load.py``: ``LOAD_SEARCH_EXPERIMENT`` (a seeded experiment of many runs),
``LOAD_INGEST_EXPERIMENT``, ``LOAD_RUN`` (a seeded run with a metric history), ``LOAD_MODEL``
and ``LOAD_ALIAS``. Every answer but a 2xx counts as a failure; answers of 500 or more are
counted apart too and written, with the totals, to ``LOAD_OUTCOME`` when the test stops.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from typing import Any

from locust import HttpUser, between, events, task

SEARCH_EXPERIMENT = int(os.environ.get("LOAD_SEARCH_EXPERIMENT", "1"))
INGEST_EXPERIMENT = int(os.environ.get("LOAD_INGEST_EXPERIMENT", "1"))
RUN = os.environ.get("LOAD_RUN", "")
MODEL = os.environ.get("LOAD_MODEL", "load-model")
ALIAS = os.environ.get("LOAD_ALIAS", "champion")
OUTCOME = os.environ.get("LOAD_OUTCOME", "")
KEYS = [f"m{i}" for i in range(10)]
STEPS_PER_BATCH = 100  # 10 keys x 100 steps: a 1,000-point flush, as the client sends them

statuses: Counter[int] = Counter()


@events.request.add_listener
def _count(response: Any = None, exception: Any = None, **_: Any) -> None:
    status = getattr(response, "status_code", 0) or 0
    statuses[status if exception is None or status else 0] += 1


@events.test_stop.add_listener
def _write(environment: Any, **_: Any) -> None:
    if not OUTCOME:
        return
    total = environment.stats.total
    outcome = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "statuses": {str(code): n for code, n in sorted(statuses.items())},
        "server_errors": sum(n for code, n in statuses.items() if code >= 500),
    }
    with open(OUTCOME, "w") as out:
        json.dump(outcome, out)


class TrainingClient(HttpUser):
    """A training job: one run, then a metric flush every few hundred milliseconds."""

    weight = 3
    wait_time = between(0.2, 0.5)

    def on_start(self) -> None:
        self.step = 0
        self.params_logged = 0
        self.run_id = ""
        with self.client.post(
            "/api/v1/runs",
            json={"experiment_id": INGEST_EXPERIMENT, "name": "load"},
            name="create run",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                self.run_id = response.json()["run_id"]
            else:
                response.failure(f"{response.status_code}")

    @task(10)
    def log_metrics(self) -> None:
        if not self.run_id:
            return
        steps = [self.step + s for s in range(STEPS_PER_BATCH) for _ in KEYS]
        body = {
            "keys": KEYS * STEPS_PER_BATCH,
            "values": [random.random() for _ in steps],
            "steps": steps,
            "timestamps": [1_767_225_600_000 + s for s in steps],
        }
        self.step += STEPS_PER_BATCH
        self.client.post(f"/api/v1/runs/{self.run_id}/metrics", json=body, name="log metrics")

    @task(1)
    def log_params(self) -> None:
        if self.run_id:
            # Params are immutable (another value for a logged key is a 409): a new key each time.
            self.params_logged += 1
            params = {f"p{self.params_logged}": str(random.random())}
            self.client.post(
                f"/api/v1/runs/{self.run_id}/params", json={"params": params}, name="log params"
            )


class Browser(HttpUser):
    """A person looking: experiments, searches, a run, its chart, the UI's pages."""

    weight = 2
    wait_time = between(0.5, 1.5)

    @task(3)
    def search_filtered(self) -> None:
        body = {
            "experiment_ids": [SEARCH_EXPERIMENT],
            "filter": "metrics.loss < 0.5 and params.lr = '0.01'",
            "order_by": ["metrics.loss ASC"],
            "max_results": 100,
        }
        self.client.post("/api/v1/runs/search", json=body, name="search runs (filtered)")

    @task(2)
    def search_page(self) -> None:
        body = {"experiment_ids": [SEARCH_EXPERIMENT], "max_results": 100}
        self.client.post("/api/v1/runs/search", json=body, name="search runs (first page)")

    @task(2)
    def experiments(self) -> None:
        self.client.get("/api/v1/experiments", name="list experiments")

    @task(2)
    def run_and_history(self) -> None:
        if RUN:
            self.client.get(f"/api/v1/runs/{RUN}", name="get run")
            self.client.get(f"/api/v1/runs/{RUN}/metrics/loss/history", name="metric history")

    @task(1)
    def ui_pages(self) -> None:
        self.client.get("/", name="UI: experiments")
        self.client.get(f"/ui/experiments/{SEARCH_EXPERIMENT}", name="UI: runs table")


class RegistryReader(HttpUser):
    """A serving process resolving the model it deploys."""

    weight = 1
    wait_time = between(0.1, 0.3)

    @task(5)
    def alias(self) -> None:
        self.client.get(f"/api/v1/models/{MODEL}/aliases/{ALIAS}", name="resolve alias")

    @task(1)
    def versions(self) -> None:
        self.client.get(f"/api/v1/models/{MODEL}/versions", name="list versions")
