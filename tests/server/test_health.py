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
    assert "modelyard_pool_size" in text
