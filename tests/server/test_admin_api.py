"""``/api/v1/admin``: the identity commands over HTTP, for server admins only."""

from __future__ import annotations

import httpx
import pytest
from auth_support import bearer

pytestmark = pytest.mark.anyio

ADMIN = "/api/v1/admin"


async def test_a_server_admin_onboards_a_team_over_http(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    root = bearer(people["root"])
    made = await api.post(f"{ADMIN}/workspaces", json={"name": "vision"}, headers=root)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "vision" and isinstance(made.json()["created_at"], int)
    user = await api.post(f"{ADMIN}/users", json={"name": "vic", "service": True}, headers=root)
    assert user.status_code == 201 and user.json()["kind"] == "service", user.text
    member = {"workspace": "vision", "user": "vic", "role": "editor"}
    assert (await api.post(f"{ADMIN}/members", json=member, headers=root)).status_code == 201
    token = await api.post(
        f"{ADMIN}/tokens",
        json={"user": "vic", "workspace": "vision", "expires": "30d"},
        headers=root,
    )
    assert token.status_code == 201, token.text
    assert token.headers["cache-control"] == "no-store"
    secret = token.json()["token"]
    assert token.json()["expires_at"] > token.json()["created_at"]

    vic = {**bearer(secret), "x-modelyard-workspace": "vision"}
    created = await api.post("/api/v1/experiments", json={"name": "e"}, headers=vic)
    assert created.status_code == 201, created.text

    listed = (await api.get(f"{ADMIN}/tokens", params={"user": "vic"}, headers=root)).json()
    assert [t["token_id"] for t in listed["items"]] == [token.json()["token_id"]]
    assert "token" not in listed["items"][0] and secret.split("_")[2] not in str(listed)
    members = await api.get(f"{ADMIN}/members", params={"workspace": "vision"}, headers=root)
    (only,) = members.json()["items"]
    assert (only["workspace"], only["user"], only["role"]) == ("vision", "vic", "editor")
    assert "vision" in {
        w["name"] for w in (await api.get(f"{ADMIN}/workspaces", headers=root)).json()["items"]
    }
    assert "vic" in {
        u["name"] for u in (await api.get(f"{ADMIN}/users", headers=root)).json()["items"]
    }

    revoked = await api.post(f"{ADMIN}/tokens/{token.json()['token_id']}/revoke", headers=root)
    assert revoked.status_code == 200 and isinstance(revoked.json()["revoked_at"], int)
    assert (await api.get("/api/v1/experiments", headers=vic)).status_code == 401

    gone = await api.delete(f"{ADMIN}/members/vision/vic", headers=root)
    assert gone.status_code == 204
    again = await api.delete(f"{ADMIN}/members/vision/vic", headers=root)
    assert again.status_code == 404


async def test_only_a_server_admin_may(api: httpx.AsyncClient, people: dict[str, str]) -> None:
    for who in ("ada", "ed", "rita", "olga"):
        response = await api.post(
            f"{ADMIN}/tokens", json={"user": "root"}, headers=bearer(people[who])
        )
        assert response.status_code == 403, who
        assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    assert (await api.get(f"{ADMIN}/tokens")).status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/workspaces", {"name": "default"}, 409),
        ("/workspaces", {"name": ""}, 400),
        ("/users", {"name": "has space"}, 400),
        ("/users", {"name": "x", "admin": "yes"}, 400),
        ("/members", {"workspace": "nope", "user": "ed", "role": "reader"}, 404),
        ("/members", {"workspace": "default", "user": "ed", "role": "owner"}, 400),
        ("/tokens", {"user": "nobody"}, 404),
        ("/tokens", {"user": "ed", "expires": "soon"}, 400),
        ("/tokens", {"user": "ed", "token": "mine"}, 400),
    ],
)
async def test_bad_input_is_a_4xx_in_the_error_shape(
    api: httpx.AsyncClient, people: dict[str, str], path: str, body: dict[str, object], status: int
) -> None:
    response = await api.post(ADMIN + path, json=body, headers=bearer(people["root"]))
    assert response.status_code == status, response.text
    assert set(response.json()["error"]) == {"code", "message", "details"}


async def test_revoking_an_unknown_token_is_404(
    api: httpx.AsyncClient, people: dict[str, str]
) -> None:
    response = await api.post(f"{ADMIN}/tokens/0123456789ab/revoke", headers=bearer(people["root"]))
    assert response.status_code == 404
