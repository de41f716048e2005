"""What authentication costs: metric ingest and run search through ``modelyard server`` with
``--auth`` and with ``--no-auth``, on the same database in the same run.

One embedded PostgreSQL 18 (the settings of ``bench/_postgres.py``), one database seeded with
the search experiment of ``bench/_dataset.py`` by COPY, and a server admin with a token. Then
``--rounds`` rounds, each starting the server for every side in turn (the order reverses
between rounds, so a drift in the machine's load does not favour one side) and measuring:

- ingest: ``--threads`` threads sending log-batch requests of 10,000 points back to back for
  ``--ingest-seconds`` (points/s);
- search: the filtered and ordered search of 100 runs (``metrics.loss < 0.5 and params.lr =
  '0.01'`` ordered by ``metrics.loss``) and the plain first page, ``--latency-seconds`` each
  (ms per request, p50 and p95).

Three sides: ``bypass`` (the superuser, whom row-level security does not bind, auth off),
``off`` and ``on`` (the runtime role the server runs as in production, auth off and on). Each
figure is the median over the rounds; the ratios are on/off (what authentication costs) and
on/bypass (authentication and row-level security together): ingest >= 0.90 and search <= 1.10
meet the target of issue 10 (within 10%).

Usage: PYTHONPATH=src python -m bench.auth_cost [--runs 20000] [--rounds 3] [--work DIR]
Prints a JSON document (also written to ``bench/results/auth_cost.json``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import secrets
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from bench import _dataset as data
from bench._postgres import embedded_postgres
from bench._seed import seed_modelyard
from bench._servers import Running, modelyard_server
from bench._systems import Modelyard
from bench._timing import client, latency, throughput
from bench.run import batches, log
from modelyard.auth import admin
from modelyard.bootstrap.runtime import RUNTIME_ROLE, ensure_runtime_role
from modelyard.db.conninfo import DEFAULT_SCHEMA

RESULTS = Path(__file__).resolve().parent / "results" / "auth_cost.json"
SEARCHES = {"search_filtered": (data.FILTER, data.ORDER_BY), "search_default": (None, ())}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20_000, help="runs in the search experiment")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of off/on (alternating)")
    parser.add_argument("--threads", type=int, default=2, help="ingest threads")
    parser.add_argument("--ingest-seconds", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1, help="server workers")
    parser.add_argument("--work", type=Path, default=None, help="a kept work directory")
    parser.add_argument("--output", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def measure(
    server: Running, headers: dict[str, str], experiment_id: str, args: argparse.Namespace
) -> dict[str, Any]:
    system = Modelyard()
    out: dict[str, Any] = {}
    with client(server.base_url, headers=headers) as http:
        for label, (filter, order) in SEARCHES.items():
            call = system.search(experiment_id, filter, order)
            out[label] = latency(
                functools.partial(call.send, http),
                warmup=5,
                max_calls=500,
                max_seconds=args.latency_seconds,
            ).as_dict()
        ingest_experiment = system.create_experiment(http, f"ingest-{os.urandom(4).hex()}")
        runs = [
            system.create_run(http, ingest_experiment, f"ingest-{i}") for i in range(args.threads)
        ]
    sources = [batches(system, run_id) for run_id in runs]
    out["ingest"] = throughput(
        server.base_url, sources, max_seconds=args.ingest_seconds, headers=headers
    ).as_dict()
    return out


def runtime_dsn(dsn: str) -> str:
    """A runtime role for ``dsn``'s database (what the server connects as in production: no
    owner, no BYPASSRLS), made with the launcher's own code; its connection string."""
    password = secrets.token_urlsafe(24)
    with psycopg.connect(dsn, autocommit=True) as conn:
        owner = conn.execute("SELECT current_user::text").fetchone()
        assert owner is not None
        ensure_runtime_role(
            conn,
            RUNTIME_ROLE,
            password,
            database=conn.info.dbname,
            schema=DEFAULT_SCHEMA,
            owner=str(owner[0]),
        )
    return make_conninfo(dsn, user=RUNTIME_ROLE.name, password=password)


def summarise(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the rounds per side, and the ratios of auth on to auth off and to the
    superuser whom row-level security does not bind."""
    summary: dict[str, Any] = {}
    for side in ("bypass", "off", "on"):
        summary[side] = {
            "ingest_points_per_s": statistics.median(
                r[side]["ingest"]["points_per_second"] for r in rounds
            ),
            **{
                f"{label}_{stat}_ms": statistics.median(r[side][label][stat] for r in rounds)
                for label in SEARCHES
                for stat in ("p50", "p95")
            },
        }
    for base in ("off", "bypass"):
        summary[f"ratio_on_over_{base}"] = {
            key: round(summary["on"][key] / summary[base][key], 3)
            for key in summary[base]
            if summary[base][key]
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="modelyard-auth-bench-"))
    (work / "logs").mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python -m bench.auth_cost " + " ".join(argv or sys.argv[1:]),
        "load_average_before": os.getloadavg(),
        "runs": args.runs,
        "rounds": args.rounds,
        "threads": args.threads,
        "workers": args.workers,
    }
    rounds: list[dict[str, dict[str, Any]]] = []
    with embedded_postgres(work / "pg") as pg:
        dsn = pg.create_database("bench_auth")
        log(f"loading {args.runs:,} runs by COPY")
        experiment_id = str(seed_modelyard(dsn, list(data.search_runs(args.runs))))
        with admin.connect(dsn, DEFAULT_SCHEMA) as conn:
            admin.create_user(conn, "bench-admin", admin=True, service=True)
            token = admin.create_token(conn, "bench-admin", workspace=None, expires_in=None)
        runtime = runtime_dsn(dsn)
        pg.vacuum_analyze("bench_auth")
        bearer = {"authorization": f"Bearer {token['token']}"}
        # (server URL, options, headers) per side: "bypass" is the superuser, whom row-level
        # security does not bind, without auth; "off" and "on" are the runtime role the server
        # runs as in production, without and with auth.
        sides = {
            "bypass": (dsn, ["--no-auth"], {}),
            "off": (runtime, ["--no-auth"], {}),
            "on": (runtime, ["--auth"], bearer),
        }
        for number in range(args.rounds):
            order = list(sides) if number % 2 == 0 else list(reversed(sides))
            measured: dict[str, dict[str, Any]] = {}
            for side in order:
                url, extra, headers = sides[side]
                log(f"round {number + 1}/{args.rounds}: {side}")
                with modelyard_server(
                    url, args.workers, work / "logs", extra=extra, label=f"-auth-{side}"
                ) as server:
                    measured[side] = measure(server, headers, experiment_id, args)
            rounds.append(measured)
    meta["load_average_after"] = os.getloadavg()
    result = {"meta": meta, "summary": summarise(rounds), "rounds": rounds}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
