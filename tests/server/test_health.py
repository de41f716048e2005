"""/health, /ready and /metrics."""

from __future__ import annotations

import httpx
import psycopg
import pytest


@pytest.mark.anyio
async def test_health_is_ok_without_touching_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.anyio
async def test_ready_reports_the_schema_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["schema_version"] >= 1


@pytest.mark.anyio
async def test_ready_is_503_when_the_schema_is_behind(
    client: httpx.AsyncClient, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DELETE FROM ml_model_schema.schema_version WHERE version = 1")
    response = await client.get("/ready")
    assert response.status_code == 503
    assert response.json()["status"] == "schema_outdated"


@pytest.mark.anyio
async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/health")
    await client.get("/health")
    text = (await client.get("/metrics")).text
    assert 'modelyard_http_requests_total{method="GET",route="/health",status="200"} 2.0' in text
    await client.get("/api/v1/runs/" + "0" * 32)
    text = (await client.get("/metrics")).text
    assert (
        'modelyard_http_requests_total{method="GET",route="/api/v1/runs/{run_id}",status="404"} 1.0'
        in text
    )
    assert "modelyard_pool_size" in text


@pytest.mark.anyio
async def test_ready_accepts_a_newer_schema(client: httpx.AsyncClient, database_url: str) -> None:
    """The next release migrated the database: this (previous) release keeps serving."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ml_model_schema.schema_version (version, name, checksum)"
            " VALUES (9999, 'from_the_future', 'x')"
        )
    response = await client.get("/ready")
    assert response.status_code == 200
    assert response.json()["schema_version"] == 9999


@pytest.mark.anyio
async def test_access_log_at_info_level(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    with caplog.at_level(logging.INFO, logger="modelyard.access"):
        await client.get("/api/v1/runs/" + "0" * 32)
    (record,) = [r for r in caplog.records if r.name == "modelyard.access"]
    assert record.__dict__["route"] == "/api/v1/runs/{run_id}"
    assert record.__dict__["status"] == 404
    assert record.__dict__["duration_ms"] >= 0


def test_json_log_lines_carry_extra_fields_and_drop_terminal_colours() -> None:
    import json
    import logging

    from modelyard.logs import JsonFormatter

    record = logging.makeLogRecord(
        {"name": "x", "levelname": "INFO", "msg": "hi", "path": "/a", "color_message": "\x1b[1m"}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "hi" and line["path"] == "/a" and line["level"] == "info"
    assert "color_message" not in line
