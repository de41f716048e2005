"""Logging in to the UI: an API token in, an HttpOnly SameSite=Strict session cookie out, the
session honoured on the UI's routes only, logging out (or revoking the token it was opened
with) ends it; the forms need their CSRF token; the redirect after login stays on this site."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from auth_support import bearer
from form_support import csrf_token

from modelyard.auth import admin
from modelyard.auth.credentials import SESSION_COOKIE
from modelyard.db.conninfo import DEFAULT_SCHEMA, with_schema

pytestmark = pytest.mark.anyio



async def csrf(client: httpx.AsyncClient, path: str = "/ui/login") -> str:
    return await csrf_token(client, path)


async def log_in(
    client: httpx.AsyncClient, token: str, *, workspace: str = "", next_path: str = "/"
) -> httpx.Response:
    data = {"token": token, "workspace": workspace, "next": next_path}
    return await client.post("/ui/login", data={**data, "csrf_token": await csrf(client)})


def session_rows(database_url: str) -> list[tuple[str, str, object, object]]:
    with psycopg.connect(with_schema(database_url, DEFAULT_SCHEMA)) as conn:
        return conn.execute(
            "SELECT token_id, parent_token_id, expires_at - created_at, revoked_at"
            " FROM api_token WHERE kind = 'session' ORDER BY created_at"
        ).fetchall()


async def test_a_page_without_a_session_sends_the_browser_to_the_login_page(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/ui/models?sort=name")
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/login?next=%2Fui%2Fmodels%3Fsort%3Dname"
    htmx = await api.get("/ui/live", headers={"hx-request": "true"})
    assert htmx.status_code == 401 and htmx.headers["hx-redirect"].startswith("/ui/login?next=")
    page = await api.get("/ui/login")
    assert page.status_code == 200 and 'name="token"' in page.text


async def test_logging_in_opens_a_session_in_an_httponly_strict_cookie(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    await api.post("/api/v1/experiments", json={"name": "ours"}, headers=bearer(people["ed"]))
    response = await log_in(api, people["rita"], next_path="/ui/models")
    assert response.status_code == 303 and response.headers["location"] == "/ui/models"
    cookie = next(
        value for key, value in response.headers.multi_items()
        if key == "set-cookie" and value.startswith(f"{SESSION_COOKIE}=")
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "secure" not in attributes  # plain http here
    session = cookie.split(";")[0].split("=", 1)[1]
    assert session not in people.values()  # the browser holds a session, not the API token
    [(_, parent, lifetime, revoked)] = session_rows(database_url)
    assert parent == people["rita"].split("_")[1] and revoked is None
    assert lifetime.total_seconds() <= 12 * 3600 + 1  # type: ignore[attr-defined]
    home = await api.get("/")
    assert home.status_code == 200 and "ours" in home.text and "rita" in home.text


async def test_the_session_counts_on_the_ui_only(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    assert (await log_in(api, people["ada"])).status_code == 303
    assert (await api.get("/")).status_code == 200
    # The APIs take no cookie: a page of another site could otherwise make the browser call them.
    assert (await api.get("/api/v1/experiments")).status_code == 401
    assert (await api.get("/api/2.0/mlflow/experiments/search")).status_code == 401


async def test_a_session_has_its_users_role_and_workspace(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    await api.post("/api/v1/experiments", json={"name": "in-default"}, headers=bearer(people["ed"]))
    olga = {"x-modelyard-workspace": "other", **bearer(people["olga"])}
    await api.post("/api/v1/experiments", json={"name": "in-other"}, headers=olga)
    # olga belongs to "other" only: with no workspace named, the login picks it.
    assert (await log_in(api, people["olga"])).status_code == 303
    home = await api.get("/")
    assert "in-other" in home.text and "in-default" not in home.text
    # A reader's session cannot write: the guard refuses with the UI's error page.
    api.cookies.clear()
    assert (await log_in(api, people["rita"])).status_code == 303
    created = await api.post(
        "/ui/experiments/new", data={"name": "nope", "csrf_token": await csrf(api, "/")}
    )
    assert created.status_code == 403 and "text/html" in created.headers["content-type"]


async def test_bad_tokens_and_workspaces_out_of_reach_open_no_session(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    for token, workspace in (
        ("myd_" + "0" * 12 + "_" + "0" * 64, ""),
        ("nonsense", ""),
        (people["revoked"], ""),
        (people["expired"], ""),
        (people["ed-other"], "default"),  # a token limited to "other"
        (people["rita"], "other"),  # not a member there
        (people["rita"], "no-such-workspace"),
    ):
        response = await log_in(api, token, workspace=workspace)
        assert response.status_code == 200, (token, workspace)  # the form again, saying why
        assert 'role="alert"' in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert session_rows(database_url) == []


async def test_the_login_form_needs_its_csrf_token(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    response = await api.post("/ui/login", data={"token": people["root"], "next": "/"})
    assert response.status_code == 403
    assert session_rows(database_url) == []


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "evil"]
)
async def test_the_redirect_after_login_stays_on_this_site(
    api: httpx.AsyncClient, people: dict[str, str], target: str
) -> None:
    response = await log_in(api, people["root"], next_path=target)
    assert response.status_code == 303 and response.headers["location"] == "/"


async def test_logging_out_revokes_the_session(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    await log_in(api, people["ed"])
    stolen = api.cookies[SESSION_COOKIE]
    out = await api.post("/ui/logout", data={"csrf_token": await csrf(api, "/")})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    [(_, _, _, revoked)] = session_rows(database_url)
    assert revoked is not None
    # A copy of the cookie kept from before is worth nothing now.
    api.cookies.clear()
    api.cookies.set(SESSION_COOKIE, stolen)
    assert (await api.get("/")).status_code == 303
    # The API token itself still works: logging out ends one browser's session only.
    assert (await api.get("/api/v1/experiments", headers=bearer(people["ed"]))).status_code == 200


async def test_revoking_the_api_token_ends_its_sessions(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    await log_in(api, people["ada"])
    assert (await api.get("/")).status_code == 200
    with admin.connect(database_url, DEFAULT_SCHEMA) as conn:
        admin.revoke_token(conn, people["ada"].split("_")[1])
    assert (await api.get("/")).status_code == 303


async def test_a_session_cannot_open_another(
    api: httpx.AsyncClient, people: dict[str, str], database_url: str
) -> None:
    await log_in(api, people["ed"])
    session = api.cookies[SESSION_COOKIE]
    api.cookies.clear()
    again = await log_in(api, session)
    assert again.status_code == 200 and "log in with an API token" in again.text
    assert len(session_rows(database_url)) == 1


async def test_with_authentication_off_the_login_page_says_so(client: httpx.AsyncClient) -> None:
    page = await client.get("/ui/login")
    assert page.status_code == 200 and "Authentication is off" in page.text
    assert (await client.get("/")).status_code == 200
