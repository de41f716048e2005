"""The dispatcher delivers every workspace's events as the runtime role under row-level security.

The schema's policies (migration 0019) show a webhook, event, delivery or attempt only in its
workspace's scope, so a dispatcher that claimed in one scope only would never see the other
workspace's queue.
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

async def test_each_workspace_gets_its_own_events_under_rls(
    database_url: str, make_app: AppFactory, receivers: Callable[..., Receiver]
) -> None:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as owner:
        owner.execute("INSERT INTO workspace (name) VALUES ('other')")
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
        async with pooled(running.store.pool, workspace=None) as conn:
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
