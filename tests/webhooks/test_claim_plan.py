"""The dispatcher's claim reads one queue head per webhook, however long the backlog is.

A receiver that was down for a day leaves a long queue; the claim runs on every wake-up of every
dispatcher, so it must not read that queue. 36,000 pending deliveries over 4 webhooks (plus 16
idle ones, and some delivered history) are made with set-based SQL; EXPLAIN ANALYZE of the claim
(rolled back) and of next_due must read one pending row per busy webhook, through
webhook_delivery_pending_idx, and no index scan may filter its way through a queue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.sql import query

BACKLOG = 10_000
BUSY_WEBHOOKS = 4
IDLE_WEBHOOKS = 16
PENDING_INDEX = "webhook_delivery_pending_idx"

LOAD = [
    "INSERT INTO event (event_seq, workspace_id, entity, action, payload) "
    "SELECT i, 1, 'registered_model', 'created', jsonb_build_object('name', 'm' || i) "
    "FROM generate_series(1, %(n)s) i",
    "INSERT INTO webhook (workspace_id, name, url, events) "
    "SELECT 1, 'hook-' || i, 'https://hooks.example.com/' || i, ARRAY['registered_model.created'] "
    "FROM generate_series(1, %(webhooks)s) i",
    # The busy webhooks each have the whole backlog pending; their heads are due.
    "INSERT INTO webhook_delivery (workspace_id, webhook_id, event_seq, entity, action) "
    "SELECT 1, w.webhook_id, e.event_seq, 'registered_model', 'created' "
    "FROM (SELECT webhook_id FROM webhook ORDER BY name LIMIT %(busy)s) w, event e",
    # Some history: delivered rows are outside the partial index.
    "UPDATE webhook_delivery SET state = 'delivered', finished_at = now() "
    "WHERE event_seq <= %(n)s / 10",
]


@pytest.fixture
def backlog(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA), autocommit=True) as conn:
        params = {
            "n": BACKLOG,
            "webhooks": BUSY_WEBHOOKS + IDLE_WEBHOOKS,
            "busy": BUSY_WEBHOOKS,
        }
        for statement in LOAD:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE webhook_delivery")
        conn.execute("ANALYZE")
        yield conn


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _analyze(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> list[Any]:
    """The executed plan's nodes; the statement's effects are rolled back."""
    with conn.transaction(force_rollback=True):
        row = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query(name), params).fetchone()
    assert row is not None
    return list(_nodes(row[0][0]["Plan"]))


def _pending_rows_read(nodes: list[dict[str, Any]]) -> int:
    """Rows the plan took from webhook_delivery's pending index (actual rows x loops)."""
    return sum(
        int(n["Actual Rows"]) * int(n["Actual Loops"])
        for n in nodes
        if n.get("Index Name") == PENDING_INDEX
    )


def _check_bounded(nodes: list[dict[str, Any]]) -> None:
    scans = {n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"}
    assert "webhook_delivery" not in scans, "the claim scans every delivery"
    assert any(n.get("Index Name") == PENDING_INDEX for n in nodes)
    # One head per webhook with pending deliveries, not the 9,000 pending rows of each, and
    # nothing read past them (no index scan that filters its way through the queue).
    # (PostgreSQL before 18 rounds the rows of each loop, so allow a row per descent.)
    assert _pending_rows_read(nodes) <= 2 * (BUSY_WEBHOOKS + 1)
    assert all(n.get("Rows Removed by Filter", 0) == 0 for n in nodes if "Index Name" in n)


def test_claim_reads_one_head_per_webhook(backlog: psycopg.Connection[Any]) -> None:
    nodes = _analyze(backlog, "webhooks.claim", {"limit": 16, "lease": 15.0})
    _check_bounded(nodes)
    claimed = backlog.execute(
        "WITH c AS (" + query("webhooks.claim") + ") SELECT count(*), min(event_seq) FROM c",
        {"limit": 16, "lease": 15.0},
    ).fetchone()
    # One delivery per busy webhook, each its queue's head (the first event not delivered).
    assert claimed == (BUSY_WEBHOOKS, BACKLOG // 10 + 1)


def test_next_due_reads_one_head_per_webhook(backlog: psycopg.Connection[Any]) -> None:
    _check_bounded(_analyze(backlog, "webhooks.next_due", {}))
