"""The audit log on the database itself: what ``modelyard audit verify``, ``list`` and ``prune``
run.

Like ``db upgrade`` these work on a plain connection, not through a server. ``verify`` walks each
workspace's chain in order and recomputes every row's hash in PostgreSQL (the function the
triggers use, so the two can never disagree); ``prune`` drops whole monthly partitions and
records, per chain, the last row it dropped, where the remaining chain starts.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from modelyard.errors import InvalidInput
from modelyard.progress import NoProgress, Progress
from modelyard.sql import query

Conn = psycopg.Connection[dict[str, Any]]

ACTIONS = ("insert", "update", "delete", "denied")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_PARTITION = re.compile(r"^audit_event_(\d{4})_(\d{2})$")
PAGE = 5000


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain: the row where it breaks and what is wrong there."""

    workspace_id: int
    seq: int
    problem: str


@dataclass(frozen=True)
class ChainReport:
    workspace_id: int
    rows: int
    last_seq: int
    broken: Break | None


def verify(conn: Conn, progress: Progress | None = None) -> list[ChainReport]:
    """Check every chain; one report per chain, with its first broken link if any.

    ``conn`` should hold one snapshot (``admin.connect(..., snapshot=True)``), so that rows
    appended while the chains are walked do not look like a break.
    """
    progress = progress or NoProgress()
    chains = conn.execute(query("audit.chains")).fetchall()
    total = sum(int(c["last_seq"]) - int(c["pruned_seq"]) for c in chains)
    reports = []
    with progress.phase("verifying audit chains", total) as advance:
        for chain in chains:
            reports.append(_verify_chain(conn, chain, advance))
    return reports


def _verify_chain(conn: Conn, chain: dict[str, Any], advance: Any) -> ChainReport:
    workspace_id = int(chain["workspace_id"])
    expected_seq = int(chain["pruned_seq"]) + 1
    expected_prev = bytes(chain["pruned_hash"])
    rows = 0

    def broken(seq: int, problem: str) -> ChainReport:
        return ChainReport(workspace_id, rows, expected_seq - 1, Break(workspace_id, seq, problem))

    while True:
        page = conn.execute(
            query("audit.verify_page"),
            {"workspace_id": workspace_id, "after": expected_seq - 1, "limit": PAGE},
        ).fetchall()
        for row in page:
            seq = int(row["seq"])
            if seq != expected_seq:
                return broken(expected_seq, f"row {expected_seq} is missing (next is {seq})")
            if bytes(row["prev_hash"]) != expected_prev:
                return broken(seq, "its previous hash is not the hash of the row before it")
            if not row["intact"]:
                return broken(seq, "its content does not match its hash (edited)")
            expected_prev = bytes(row["row_hash"])
            expected_seq += 1
            rows += 1
        advance(len(page))
        if len(page) < PAGE:
            break
    last_seq, last_hash = int(chain["last_seq"]), bytes(chain["last_hash"])
    if expected_seq - 1 < last_seq:
        return broken(expected_seq, f"rows {expected_seq}..{last_seq} are missing (the end)")
    if expected_seq - 1 > last_seq or expected_prev != last_hash:
        return broken(expected_seq - 1, "the chain's head does not match its last row")
    return ChainReport(workspace_id, rows, expected_seq - 1, None)


def list_events(
    conn: Conn,
    *,
    workspace: str | None = None,
    actor: str | None = None,
    entity: str | None = None,
    action: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Audit rows newest first; each filter left None matches every row."""
    if action is not None and action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", field="action")
    args = {
        "workspace": workspace,
        "actor": actor,
        "entity": entity,
        "action": action,
        "since": since,
        "until": until,
        "limit": limit,
    }
    return conn.execute(query("audit.list"), args).fetchall()


def parse_month(text: str) -> dt.datetime:
    """``2026-01`` as the first instant of that month in UTC."""
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"month {text!r} is not YYYY-MM", field="before")
    return dt.datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=dt.UTC)


def prune(conn: Conn, before: dt.datetime, *, now: dt.datetime | None = None) -> list[str]:
    """Drop the partitions of the months before ``before``; the names dropped.

    Only the owner of the log may (DROP TABLE); the current month is never dropped.
    """
    now = now or dt.datetime.now(dt.UTC)
    if before > dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC):
        raise InvalidInput("--before may not be later than the current month", field="before")
    doomed = []
    for row in conn.execute(query("audit.partitions")).fetchall():
        match = _PARTITION.match(row["name"])
        if match and dt.datetime(int(match[1]), int(match[2]), 1, tzinfo=dt.UTC) < before:
            doomed.append(str(row["name"]))
    if not doomed:
        return []
    conn.execute(query("audit.lock_chains"))
    conn.execute(query("audit.lock_events"))
    conn.execute(query("audit.anchor_chains"), {"before": before})
    for name in doomed:
        conn.execute(sql.SQL(query("audit.drop_partition")).format(partition=sql.Identifier(name)))
    return doomed


def ensure_partitions(conn: Conn) -> None:
    conn.execute(query("audit.ensure_partitions"))
