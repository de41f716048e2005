"""Authentication and roles on a real server app with ``auth`` on, over real PostgreSQL."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging

import httpx
import psycopg
import pytest
from auth_support import bearer

from modelyard.auth import admin
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema
from modelyard.server import create_app
from modelyard.settings import Settings

pytestmark = pytest.mark.anyio


async def test_no_token_is_401_with_the_error_shape(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/experiments")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer nonsense",
        "Bearer myd_" + "0" * 12 + "_" + "0" * 64,
        "Token abc",
        "Basic !!!",
    ],
)
async def test_bad_credentials_are_401(
    api: httpx.AsyncClient, people: dict[str, str], header: str
) -> None:
    response = await api.get("/api/v1/experiments", headers={"authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_a_right_id_with_a_wrong_secret_is_401(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    forged = people["root"][:-8] + "00000000"
    response = await api.get("/api/v1/experiments", headers=bearer(forged))
    assert response.status_code == 401


async def test_health_and_ready_and_metrics_need_no_token(api: httpx.AsyncClient) -> None:
    for path in ("/health", "/ready", "/metrics", "/api/v1/openapi.json"):
        assert (await api.get(path)).status_code == 200, path


async def test_roles_read_write_manage(api: httpx.AsyncClient, people: dict[str, str]) -> None:
    for who in ("rita", "ed", "ada", "root"):
        assert (
            await api.get("/api/v1/experiments", headers=bearer(people[who]))
        ).status_code == 200
    denied = await api.post(
        "/api/v1/experiments", json={"name": "e"}, headers=bearer(people["rita"])
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "PERMISSION_DENIED"
    created = await api.post(
        "/api/v1/experiments", json={"name": "e"}, headers=bearer(people["ed"])
    )
    assert created.status_code == 201, created.text
    # Webhooks send a workspace's events elsewhere: a workspace admin's business.
    assert (await api.get("/api/v1/webhooks", headers=bearer(people["ed"]))).status_code == 403
    assert (await api.get("/api/v1/webhooks", headers=bearer(people["ada"]))).status_code == 200
    assert (await api.get("/api/v1/webhooks", headers=bearer(people["root"]))).status_code == 200


async def test_a_workspace_is_closed_to_non_members(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    olga = bearer(people["olga"])
    assert (await api.get("/api/v1/experiments", headers=olga)).status_code == 403
    inside = {**olga, "x-modelyard-workspace": "other"}
    assert (await api.get("/api/v1/experiments", headers=inside)).status_code == 200
    # An unknown workspace answers exactly like one the caller may not enter.
    unknown = await api.get(
        "/api/v1/experiments", headers={**olga, "x-modelyard-workspace": "nope"}
    )
    closed = await api.get(
        "/api/v1/experiments", headers={**bearer(people["rita"]), "x-modelyard-workspace": "other"}
    )
    assert unknown.status_code == closed.status_code == 403
    assert unknown.json()["error"]["message"].replace("nope", "X") == closed.json()["error"][
        "message"
    ].replace("other", "X")


async def test_a_token_limited_to_a_workspace_stays_in_it(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    # ed is an editor of default, but this token of his is for "other", where he has no role.
    scoped = bearer(people["ed-other"])
    assert (await api.get("/api/v1/experiments", headers=scoped)).status_code == 403
    into_default = {**scoped, "x-modelyard-workspace": "default"}
    assert (await api.get("/api/v1/experiments", headers=into_default)).status_code == 403


async def test_basic_auth_with_the_token_as_password(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    basic = base64.b64encode(f"ed:{people['ed']}".encode()).decode()
    response = await api.get("/api/v1/experiments", headers={"authorization": f"Basic {basic}"})
    assert response.status_code == 200


async def test_a_revoked_token_fails_on_its_next_request(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    headers = bearer(people["ed"])
    assert (await api.get("/api/v1/experiments", headers=headers)).status_code == 200
    token_id = people["ed"].split("_")[1]
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.revoke_token(conn, token_id)
    response = await api.get("/api/v1/experiments", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


async def test_an_expired_token_is_401(api: httpx.AsyncClient, database_url: str) -> None:
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.create_user(conn, "temp", admin=True, service=False)
        made = admin.create_token(conn, "temp", workspace=None, expires_in=dt.timedelta(hours=1))
    headers = bearer(made["token"])
    assert (await api.get("/api/v1/experiments", headers=headers)).status_code == 200
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        conn.execute(
            "UPDATE api_token SET expires_at = now() - interval '1 second' WHERE token_id = %s",
            [made["token_id"]],
        )
    response = await api.get("/api/v1/experiments", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


async def test_ui_pages_need_a_token_too(api: httpx.AsyncClient, people: dict[str, str]) -> None:
    # A browser without a session is sent to the login page (tests/server/ui/test_ui_login.py).
    refused = await api.get("/")
    assert refused.status_code == 303 and refused.headers["location"].startswith("/ui/login")
    assert (await api.get("/", headers=bearer(people["rita"]))).status_code == 200
    assert (await api.get("/ui/static/ui.css")).status_code in (200, 404)  # assets stay open


async def test_tokens_never_reach_the_logs(
    api: httpx.AsyncClient, people: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await api.get("/api/v1/experiments", headers=bearer(people["ed"]))
    await api.get("/api/v1/experiments", headers=bearer(people["ed"][:-1] + "0"))
    secret = people["ed"].split("_")[2]
    assert secret[:16] not in caplog.text


async def test_metrics_can_require_a_server_admin(
    runtime_url: str, auth_settings: Settings, people: dict[str, str]
) -> None:
    app = create_app(dataclasses.replace(auth_settings, metrics_auth=True), runtime_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers=bearer(people["ada"]))).status_code == 403
            assert (await client.get("/metrics", headers=bearer(people["root"]))).status_code == 200
            assert (await client.get("/health")).status_code == 200


async def test_with_auth_off_a_request_may_name_its_workspace(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/experiments")).status_code == 200
    unknown = await client.get("/api/v1/experiments", headers={"x-modelyard-workspace": "nope"})
    assert unknown.status_code == 404


def _events(database_url: str) -> list[tuple[str, str | None, str | None]]:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        return conn.execute(
            "SELECT entity || '.' || action, actor, request_id FROM event ORDER BY event_seq"
        ).fetchall()


async def test_events_carry_the_actor_and_the_request_id(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    # The outbox trigger reads both from the transaction's scope, which the guard fills from
    # the caller's token and the request's X-Request-ID.
    headers = {**bearer(people["ed"]), "x-request-id": "deploy-42"}
    made = await api.post("/api/v1/models", json={"name": "m"}, headers=headers)
    assert made.status_code == 201, made.text
    tagged = await api.put(
        "/api/v1/models/m/tags/k", json={"value": "v"}, headers=bearer(people["ada"])
    )
    assert tagged.status_code in (200, 201, 204), tagged.text
    found = _events(database_url)
    assert found[0] == ("registered_model.created", "ed", "deploy-42")
    assert found[1][:2] == ("registered_model_tag.set", "ada")
    assert found[1][2] == tagged.headers["x-request-id"]
