"""The dispatcher delivers every workspace's events as the runtime role under row-level security.

Policies of the kind the RLS migrations add (rows visible only in their workspace's scope) are
put on the webhook tables here by the owner, so this holds on its own: a dispatcher that claimed
in one scope only would never see the other workspace's queue.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import psycopg
import pytest
from webhook_receiver import Receiver
from webhook_support import ALL_EVENTS, SECRET, AppFactory

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from pool_support import pooled

pytestmark = pytest.mark.anyio

SCOPED = "nullif(current_setting('modelyard.workspace', true), '')::integer"
POLICIES = f"""
ALTER TABLE webhook ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON webhook USING (workspace_id = {SCOPED});
ALTER TABLE event ENABLE ROW LEVEL SECURITY;
ALTER TABLE event FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON event USING (workspace_id = {SCOPED});
ALTER TABLE webhook_delivery ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_delivery FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON webhook_delivery
    USING (EXISTS (SELECT 1 FROM webhook w WHERE w.webhook_id = webhook_delivery.webhook_id));
ALTER TABLE webhook_attempt ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempt FORCE ROW LEVEL SECURITY;
CREATE POLICY scoped ON webhook_attempt USING (EXISTS (
    SELECT 1 FROM webhook_delivery d WHERE d.delivery_id = webhook_attempt.delivery_id));
"""


async def test_each_workspace_gets_its_own_events_under_rls(
    database_url: str, make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as owner:
        owner.execute("INSERT INTO workspace (name) VALUES ('other')")
        owner.execute(POLICIES)
    mine, theirs = receivers(), receivers()
    async with make_app() as running:
        for receiver, workspace in ((mine, "default"), (theirs, "other")):
            response = await running.api.post(
                "/api/v1/webhooks",
                json={"url": receiver.url, "events": ALL_EVENTS, "secret": SECRET},
                headers={"X-Modelyard-Workspace": workspace},
            )
            assert response.status_code == 201, response.text
        for name, workspace in (("in-default", "default"), ("in-other", "other")):
            response = await running.api.post(
                "/api/v1/models", json={"name": name}, headers={"X-Modelyard-Workspace": workspace}
            )
            assert response.status_code == 201, response.text
        got_mine = await asyncio.to_thread(mine.wait_for, 1)
        got_theirs = await asyncio.to_thread(theirs.wait_for, 1)
        # Both recorded, each in its own scope: no delivery is left pending.
        async with pooled(running.store.pool) as conn:
            cur = await conn.execute("SELECT count(*) FROM webhook_delivery")
            assert await cur.fetchone() == (0,)  # the runtime role outside any scope: nothing
        assert await asyncio.to_thread(delivered, database_url) == 2
    assert [r.json["data"]["name"] for r in got_mine] == ["in-default"]
    assert [r.json["data"]["name"] for r in got_theirs] == ["in-other"]


def delivered(database_url: str, timeout: float = 30.0) -> int:
    """Deliveries recorded as delivered (seen by the owner, who is not confined), once every
    delivery has an outcome or the timeout passed."""
    loop_until = time.monotonic() + timeout
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA), autocommit=True) as owner:
        while True:
            row = owner.execute(
                "SELECT count(*) FILTER (WHERE state = 'delivered'), "
                "count(*) FILTER (WHERE state = 'pending') FROM webhook_delivery"
            ).fetchone()
            assert row is not None
            if row[1] == 0 or time.monotonic() > loop_until:
                return int(row[0])
            time.sleep(0.05)
