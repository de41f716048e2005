"""Every request the guard refuses is in the audit log, in its own transaction."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from auth_support import bearer
from psycopg.rows import dict_row

from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema

pytestmark = pytest.mark.anyio


def denials(database_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA), row_factory=dict_row) as c:
        return c.execute(
            "SELECT workspace_id, actor, token_id, client_addr, request_id, object_key, after"
            " FROM audit_event WHERE action = 'denied' ORDER BY occurred_at, seq"
        ).fetchall()


async def test_refusals_are_recorded(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    assert (await api.get("/api/v1/experiments")).status_code == 401
    refused = await api.post(
        "/api/v1/experiments",
        json={"name": "e"},
        headers={**bearer(people["rita"]), "x-request-id": "req-denied-1"},
    )
    assert refused.status_code == 403
    other = await api.get("/api/v1/experiments", headers=bearer(people["ed-other"]))
    assert other.status_code == 403
    assert (await api.get("/api/v1/experiments", headers=bearer(people["ed"]))).status_code == 200
    anonymous, reader, foreign = denials(database_url)
    assert anonymous["workspace_id"] == 0 and anonymous["actor"].startswith("db:")
    assert anonymous["object_key"] == {"method": "GET", "path": "/api/v1/experiments"}
    assert anonymous["after"]["status"] == 401
    assert reader["workspace_id"] == 1 and reader["actor"] == "rita"
    assert reader["request_id"] == "req-denied-1" and reader["token_id"] is not None
    assert reader["after"] == {
        "status": 403,
        "code": "PERMISSION_DENIED",
        "reason": reader["after"]["reason"],
    }
    assert reader["client_addr"] is not None
    assert foreign["after"]["status"] == 403
