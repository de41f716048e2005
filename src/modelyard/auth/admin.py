"""Identity administration on the database itself: what the ``users``, ``workspaces``,
``members`` and ``tokens`` commands run.

These work on a plain connection, not through the server, so the first admin (and their first
token) can be made before any token exists. Every function runs in the caller's transaction and
raises only :mod:`modelyard.errors` exceptions (driver errors are translated by constraint name).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from modelyard import limits
from modelyard.auth import tokens
from modelyard.auth.access import Role
from modelyard.db.conninfo import for_pool, search_path
from modelyard.db.errors import translate
from modelyard.errors import InvalidInput, NotFound
from modelyard.sql import query

Conn = psycopg.Connection[dict[str, Any]]

_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@contextmanager
def connect(conninfo: str, schema: str, *, snapshot: bool = False) -> Iterator[Conn]:
    """One transaction on the database at ``conninfo``, committed when the block succeeds.

    The search path is set for the transaction, not the session, so these commands work through
    PgBouncer in transaction mode too. ``snapshot``: repeatable read and read only, for reads
    of many statements that must see one state (``audit verify``); it must come first.
    """
    try:
        with psycopg.connect(for_pool(conninfo), row_factory=dict_row) as conn:
            if snapshot:
                conn.execute(query("scope.snapshot"))
            conn.execute(query("scope.search_path"), {"search_path": search_path(schema)})
            yield conn
    except psycopg.Error as exc:
        raise translate(exc) from exc


def parse_duration(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m`` or ``2w`` as a timedelta."""
    text = text.strip()
    if not limits.DURATION_RE.search(text):
        raise InvalidInput(
            f"expiry {text!r} is not a duration like 30d, 12h, 90m or 2w", field="expires"
        )
    return dt.timedelta(seconds=int(text[:-1]) * _UNIT_SECONDS[text[-1]])


def create_workspace(conn: Conn, name: str) -> dict[str, Any]:
    limits.check_workspace_name(name, field="workspace name")
    return _one(conn, "auth.create_workspace", {"name": name})


def list_workspaces(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(query("auth.list_workspaces")).fetchall()


def create_user(conn: Conn, name: str, *, admin: bool, service: bool) -> dict[str, Any]:
    limits.check_user_name(name, field="user name")
    kind = "service" if service else "user"
    return _one(conn, "auth.create_user", {"name": name, "kind": kind, "is_admin": admin})


def list_users(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(query("auth.list_users")).fetchall()


def add_member(conn: Conn, workspace: str, user: str, role: Role) -> dict[str, Any]:
    """Give ``user`` ``role`` in ``workspace`` (a member already there gets the new role)."""
    args = {
        "workspace_id": workspace_id(conn, workspace),
        "user_id": user_id(conn, user),
        "role": role.value,
    }
    _one(conn, "auth.add_member", args)
    return {"workspace": workspace, "user": user, "role": role.value}


def remove_member(conn: Conn, workspace: str, user: str) -> None:
    args = {"workspace_id": workspace_id(conn, workspace), "user_id": user_id(conn, user)}
    if conn.execute(query("auth.remove_member"), args).fetchone() is None:
        raise NotFound(f"user {user} is not a member of workspace {workspace}")


def list_members(conn: Conn, workspace: str | None) -> list[dict[str, Any]]:
    if workspace is not None:
        workspace_id(conn, workspace)  # an unknown name is an error, not an empty list
    return conn.execute(query("auth.list_members"), {"workspace": workspace}).fetchall()


def create_token(
    conn: Conn, user: str, *, workspace: str | None, expires_in: dt.timedelta | None
) -> dict[str, Any]:
    """A new token for ``user``; the result's ``token`` is its only appearance anywhere."""
    made = tokens.new_token()
    expires_at = dt.datetime.now(dt.UTC) + expires_in if expires_in is not None else None
    row = _one(
        conn,
        "auth.create_token",
        {
            "token_id": made.token_id,
            "user_id": user_id(conn, user),
            "workspace_id": workspace_id(conn, workspace) if workspace is not None else None,
            "secret_sha256": made.secret_sha256,
            "expires_at": expires_at,
        },
    )
    return {
        "token_id": made.token_id,
        "user": user,
        "workspace": workspace,
        "created_at": row["created_at"],
        "expires_at": expires_at,
        "token": made.text,
    }


def list_tokens(conn: Conn, user: str | None) -> list[dict[str, Any]]:
    if user is not None:
        user_id(conn, user)
    return conn.execute(query("auth.list_tokens"), {"user": user}).fetchall()


def revoke_token(conn: Conn, token_id: str) -> dict[str, Any]:
    row = conn.execute(query("auth.revoke_token"), {"token_id": token_id}).fetchone()
    if row is None:
        raise NotFound(f"token {token_id} does not exist")
    return row


def workspace_id(conn: Conn, name: str) -> int:
    row = conn.execute(query("auth.workspace_id"), {"name": name}).fetchone()
    if row is None:
        raise NotFound(f"workspace {name} does not exist")
    return int(row["workspace_id"])


def user_id(conn: Conn, name: str) -> int:
    row = conn.execute(query("auth.user_id"), {"name": name}).fetchone()
    if row is None:
        raise NotFound(f"user {name} does not exist")
    return int(row["user_id"])


def _one(conn: Conn, name: str, args: dict[str, Any]) -> dict[str, Any]:
    row = conn.execute(query(name), args).fetchone()
    if row is None:  # pragma: no cover - INSERT ... RETURNING always returns its row
        raise RuntimeError(f"{name} returned no row")
    return row


def ensure_first_admin(conn: Conn, name: str, token_file: Path) -> bool:
    """Unattended installs: make ``name`` a server admin with a token written to ``token_file``,
    unless a server admin exists already (then nothing happens, and False is returned).

    The file is created with mode 0600 and never overwritten (an existing file is an error), so
    a token is never printed, logged or replaced behind an operator's back.
    """
    if conn.execute(query("auth.server_admin_exists")).fetchone() is not None:
        return False
    create_user(conn, name, admin=True, service=False)
    made = create_token(conn, name, workspace=None, expires_in=None)
    try:
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidInput(
            f"{token_file} exists already; the first admin's token is never written over it",
            field="admin_token_file",
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot create {token_file}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as out:
        out.write(made["token"] + "\n")
    return True
