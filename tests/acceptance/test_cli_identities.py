"""``modelyard workspaces/users/members/tokens`` as subprocesses, then a token used on a server."""

from __future__ import annotations

import json

import httpx
from cli_support import free_port, modelyard, start_server, stop_server


def _ok(*args: str) -> str:
    result = modelyard(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_first_admin_token_and_revocation_from_the_cli(database_url: str, runtime_url: str) -> None:
    db = ("--database-url", database_url)
    workspace = json.loads(_ok(*db, "workspaces", "create", "vision", "--json"))
    assert workspace["name"] == "vision"
    user = json.loads(_ok(*db, "users", "create", "alice", "--admin", "--json"))
    assert user["is_admin"] is True
    _ok(*db, "users", "create", "bob")
    member = json.loads(_ok(*db, "members", "add", "vision", "bob", "--role", "editor", "--json"))
    assert member == {"workspace": "vision", "user": "bob", "role": "editor"}

    made = modelyard(*db, "tokens", "create", "--user", "alice", "--expires", "30d")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("myd_") and "shown once" in made.stderr
    bobs = json.loads(
        _ok(*db, "tokens", "create", "--user", "bob", "--workspace", "vision", "--json")
    )
    assert bobs["workspace"] == "vision" and bobs["token"].startswith("myd_")

    listed = _ok(*db, "tokens", "list", "--json")
    rows = json.loads(listed)
    assert {row["user"] for row in rows} == {"alice", "bob"}
    assert token.split("_")[2] not in listed and bobs["token"].split("_")[2] not in listed
    assert [
        r["user"] for r in json.loads(_ok(*db, "tokens", "list", "--user", "bob", "--json"))
    ] == ["bob"]
    assert all(row["expires_at"] for row in rows if row["user"] == "alice")

    port = free_port()
    # The admin commands work as the owner; the server as the runtime role (with --auth, a
    # server on the superuser's URL would refuse to start).
    server = start_server(["--database-url", runtime_url], port, server_args=["--auth"])
    try:
        url = f"http://127.0.0.1:{port}/api/v1/experiments"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers={"authorization": f"Bearer {token}"}).status_code == 200
        alice_id = token.split("_")[1]
        _ok(*db, "tokens", "revoke", alice_id)
        assert httpx.get(url, headers={"authorization": f"Bearer {token}"}).status_code == 401
        # Our own CLI sends MODELYARD_TOKEN.
        listed_runs = modelyard(
            "experiments",
            "list",
            "--url",
            f"http://127.0.0.1:{port}",
            env={"MODELYARD_TOKEN": bobs["token"], "MODELYARD_WORKSPACE": "vision"},
        )
        assert listed_runs.returncode == 0, listed_runs.stderr
        refused = modelyard("experiments", "list", "--url", f"http://127.0.0.1:{port}")
        assert refused.returncode == 1 and "authentication required" in refused.stderr
    finally:
        stop_server(server)


def test_admin_commands_fail_with_one_line(database_url: str) -> None:
    db = ("--database-url", database_url)
    missing = modelyard(*db, "members", "add", "nowhere", "nobody", "--role", "reader")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: workspace nowhere does not exist"
    _ok(*db, "users", "create", "carol")
    twice = modelyard(*db, "users", "create", "carol")
    assert twice.returncode == 1 and twice.stderr.startswith("error: a user with this name")
    bad = modelyard(*db, "tokens", "create", "--user", "carol", "--expires", "soon")
    assert bad.returncode == 1 and "duration" in bad.stderr
    unknown = modelyard(*db, "tokens", "revoke", "0123456789ab")
    assert unknown.returncode == 1 and "does not exist" in unknown.stderr
    bad_name = modelyard(*db, "workspaces", "create", "Not Valid")
    assert bad_name.returncode == 1 and "workspace name" in bad_name.stderr
