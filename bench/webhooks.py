"""Measures webhooks end to end: event-to-delivery latency under a stream of registry changes, and
what the outbox adds to a registry write, with and without a webhook, in one run.

One embedded PostgreSQL 18 (the settings of bench/_postgres.py: fsync on), one `modelyard server`
process (one worker, its dispatcher on, `--webhook-allow-private` for the receiver) and, in this
process, a receiver on 127.0.0.1 that answers 200 and a writer that talks to the server over
keep-alive HTTP. The registry write is `PUT /api/v1/models/bench/versions/1/tags/k` with a new
value each time (a `model_version_tag.set` event).

1. Latency: a webhook subscribed to `model_version_tag.set`; the writer sends `--changes`
   writes at each `--rate` per second (open loop: on a schedule, not waiting for deliveries).
   Latency is the receiver's arrival time minus the event's `timestamp` (the change's
   transaction start, from PostgreSQL's clock on this machine), so it spans commit, NOTIFY,
   claim, signing and the POST. Every change must arrive, once, in order.
2. Write cost: closed-loop writes (one at a time, as fast as they go) in three settings,
   interleaved over `--rounds` rounds so drift on a shared machine hits all three alike:
   `no outbox` (the tag table's event triggers disabled: what a write costs without events),
   `outbox, no webhook` (the event row only), and `outbox + webhook` (event, delivery row,
   NOTIFY, and the dispatcher delivering each write while the next one runs).

Usage: PYTHONPATH=src:. python -m bench.webhooks [--changes 1000] [--rate 10,25,50] [--writes 300]
       [--rounds 5] [--json bench/results/webhooks.json]
Prints a Markdown table and writes the raw figures as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from cryptography.fernet import Fernet

from bench._postgres import Postgres, embedded_postgres
from bench._servers import HOST, SRC, Running, _process, free_port
from bench._timing import client, percentile
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.db.migrate import upgrade

TAG_PATH = "/api/v1/models/bench/versions/1/tags/k"
# The event trigger of a changed tag value (schema.sql): disabled for "no outbox".
TRIGGER_OFF = "ALTER TABLE model_version_tag DISABLE TRIGGER model_version_tag_changed_event"
TRIGGER_ON = "ALTER TABLE model_version_tag ENABLE TRIGGER model_version_tag_changed_event"


class Receiver:
    """Records (arrival time, body) of every POST and answers 200 at once."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any], str]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                arrived = time.time()
                with receiver._lock:
                    receiver.received.append(
                        (arrived, json.loads(body), self.headers["X-MLflow-Delivery-Id"])
                    )
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{HOST}:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.count()} of {count} deliveries in {timeout:g} s")
            time.sleep(0.01)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def server(dsn: str, log_dir: Path) -> Iterator[Running]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
        "MODELYARD_WEBHOOK_SECRET_KEY": Fernet.generate_key().decode(),
        "MODELYARD_WEBHOOK_ALLOW_PRIVATE": "1",
    }
    argv = [sys.executable, "-m", "modelyard", "--database-url", dsn, "server"]
    argv += ["--host", HOST, "--port", str(port), "--workers", "1"]
    with _process("modelyard", argv, port, env, log_dir / "modelyard-webhooks.log") as running:
        yield running


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 50), 3),
        "p99": round(percentile(samples, 99), 3),
        "mean": round(statistics.fmean(samples), 3),
        "max": round(max(samples), 3),
    }


def write(api: httpx.Client, value: int) -> float:
    """One registry write; its latency in ms."""
    started = time.perf_counter()
    answer = api.put(TAG_PATH, json={"value": str(value)})
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 204:
        raise RuntimeError(f"tag write answered {answer.status_code}: {answer.text}")
    return elapsed


def latency_phase(
    api: httpx.Client, receiver: Receiver, changes: int, rate: float, first: int
) -> dict[str, Any]:
    start = time.monotonic()
    before = receiver.count()
    for i in range(changes):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        write(api, first + i)
    sent_seconds = time.monotonic() - start
    receiver.wait_for(before + changes, timeout=120)
    got = receiver.received[before : before + changes]
    values = [int(body["data"]["value"]) for _, body, _ in got]
    if values != list(range(first, first + changes)):
        raise RuntimeError("deliveries missing, repeated or out of order")
    if len({delivery_id for _, _, delivery_id in got}) != changes:
        raise RuntimeError("a delivery id was repeated")
    lags = [
        (arrived - dt.datetime.fromisoformat(body["timestamp"]).timestamp()) * 1000
        for arrived, body, _ in got
    ]
    arrivals = [arrived for arrived, _, _ in got]
    return {
        "changes": changes,
        "rate_asked": rate,
        "rate_sent": round(changes / sent_seconds, 1),
        # One webhook delivers one event at a time (its order): this is its throughput.
        "rate_delivered": round((changes - 1) / (arrivals[-1] - arrivals[0]), 1),
        "latency_ms": summary(lags),
    }


def set_trigger(admin: psycopg.Connection[Any], enabled: bool) -> None:
    admin.execute(TRIGGER_ON if enabled else TRIGGER_OFF)


def cost_phase(
    api: httpx.Client,
    admin: psycopg.Connection[Any],
    webhook_id: str,
    receiver: Receiver,
    writes: int,
    rounds: int,
    first: int,
) -> dict[str, Any]:
    samples: dict[str, list[float]] = {
        "no outbox": [],
        "outbox, no webhook": [],
        "outbox + webhook": [],
    }
    value = first
    for _ in range(rounds):
        for setting, found in samples.items():
            set_trigger(admin, setting != "no outbox")
            status = "ACTIVE" if setting == "outbox + webhook" else "DISABLED"
            api.patch(f"/api/v1/webhooks/{webhook_id}", json={"status": status})
            expected = receiver.count() + (writes if status == "ACTIVE" else 0)
            for _ in range(10):  # warm-up
                write(api, value)
                value += 1
            expected += 10 if status == "ACTIVE" else 0
            found.extend(write(api, value + i) for i in range(writes))
            value += writes
            receiver.wait_for(expected, timeout=120)  # deliveries done before the next setting
    set_trigger(admin, True)
    figures = {setting: summary(found) for setting, found in samples.items()}
    base = figures["no outbox"]["p50"]
    for figure in figures.values():
        figure["p50_added_ms"] = round(figure["p50"] - base, 3)
    return {"writes_per_setting": writes * rounds, "rounds": rounds, "settings": figures}


def run(pg: Postgres, args: argparse.Namespace, log_dir: Path) -> dict[str, Any]:
    dsn = pg.create_database("bench_webhooks")
    upgrade(dsn, DEFAULT_SCHEMA)
    receiver = Receiver()
    try:
        with (
            server(dsn, log_dir) as running,
            client(running.base_url) as api,
            psycopg.connect(with_schema(dsn, DEFAULT_SCHEMA), autocommit=True) as admin,
        ):
            api.post("/api/v1/models", json={"name": "bench"}).raise_for_status()
            api.post(
                "/api/v1/models/bench/versions", json={"source": "runs:/" + "5" * 32 + "/model"}
            ).raise_for_status()
            write(api, 0)  # the tag exists: every later write is an UPDATE (one trigger)
            hook = api.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ["model_version_tag.set"]},
            )
            hook.raise_for_status()
            webhook_id = hook.json()["webhook_id"]
            for i in range(50):  # warm-up: connections, prepared plans, the dispatcher
                write(api, 1 + i)
            receiver.wait_for(50, timeout=60)
            latency = [
                latency_phase(api, receiver, args.changes, rate, first=10**6 * (i + 1))
                for i, rate in enumerate(args.rate)
            ]
            cost = cost_phase(
                api, admin, webhook_id, receiver, args.writes, args.rounds, first=10**8
            )
    finally:
        receiver.close()
    return {
        "postgres": {"version": pg.version, **pg.settings},
        "cpus": os.cpu_count(),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "latency": latency,
        "write_cost": cost,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| changes/s asked (sent) | delivered/s | p50 | p99 | max |",
        "| --- | --- | --- | --- | --- |",
    ]
    for lat in result["latency"]:
        ms = lat["latency_ms"]
        lines.append(
            f"| {lat['rate_asked']:g} ({lat['rate_sent']:g}) | {lat['rate_delivered']:g} | "
            f"{ms['p50']:.1f} ms | {ms['p99']:.1f} ms | {ms['max']:.1f} ms |"
        )
    lines += [
        "",
        "| registry write (tag set, HTTP) | p50 | p99 | p50 added |",
        "| --- | --- | --- | --- |",
    ]
    for setting, fig in result["write_cost"]["settings"].items():
        lines.append(
            f"| {setting} | {fig['p50']:.2f} ms | {fig['p99']:.2f} ms | "
            f"{fig['p50_added_ms']:+.2f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=1000, help="writes of a latency phase")
    parser.add_argument(
        "--rate",
        type=lambda text: [float(r) for r in text.split(",")],
        default=[10.0, 25.0, 50.0],
        help="their rates per second, comma-separated (one latency phase each)",
    )
    parser.add_argument("--writes", type=int, default=300, help="per setting and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=Path("bench/results/webhooks.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, embedded_postgres(Path(tmp) / "pg") as pg:
        result = run(pg, args, Path(tmp))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
