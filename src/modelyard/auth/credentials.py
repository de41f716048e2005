"""From a request's headers to its :class:`Caller`: the token, the workspace, the role.

Tokens come as ``Authorization: Bearer <token>`` (our client and CLI, and the MLflow client with
``MLFLOW_TRACKING_TOKEN``) or as HTTP Basic with the token as the password (the MLflow client with
``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD``). The workspace is the one the request
names (``X-Modelyard-Workspace``, or MLflow 3's ``X-MLFLOW-WORKSPACE``), else the token's own,
else ``default``. Every request looks its token up again, so a revocation or expiry holds from
the next request on.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from psycopg.rows import dict_row
from starlette.datastructures import Headers

from modelyard.auth import tokens
from modelyard.auth.access import Access, Role
from modelyard.auth.caller import DEFAULT_WORKSPACE, DEFAULT_WORKSPACE_ID, Caller, anonymous
from modelyard.errors import NotFound, PermissionDenied, Unauthenticated
from modelyard.sql import query
from modelyard.store._base import Repository

WORKSPACE_HEADERS = ("x-modelyard-workspace", "x-mlflow-workspace")
# The UI's session: a token of kind 'session' in an HttpOnly, SameSite=Strict cookie, accepted on
# the UI's own routes only (whose forms carry CSRF tokens), never on the APIs.
SESSION_COOKIE = "modelyard_session"
SESSION_HOURS = 12


def presented_token(headers: Headers) -> str | None:
    """The token in the ``Authorization`` header (Bearer, or Basic's password), or None."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("malformed Basic credentials") from None
        return decoded.partition(":")[2]
    raise Unauthenticated("unsupported Authorization scheme; use Bearer <token>")


def requested_workspace(headers: Headers) -> str | None:
    for name in WORKSPACE_HEADERS:
        value = headers.get(name)
        if value:
            return value.strip()
    return None


class Identities(Repository):
    """The lookups the guard makes: a presented token, a workspace named without a token."""

    async def caller(self, headers: Headers, session: str | None = None) -> Caller:
        """The authenticated caller of a request; Unauthenticated or PermissionDenied if not.

        ``session``: the UI session cookie's token, used when no ``Authorization`` is sent.
        """
        presented = presented_token(headers) or session
        if not presented:
            raise Unauthenticated("authentication required: send Authorization: Bearer <token>")
        token_id, secret = tokens.parse(presented)
        workspace = requested_workspace(headers)
        # One round trip, on every authenticated request (docs/design.md, "What authentication
        # costs"): no cache, so a revocation, an expiry or a change of role holds from the next
        # request on; no write (no "last used" stamp), so a read stays a read.
        row = await self.read_row(
            query("auth.authenticate"), {"token_id": token_id, "workspace": workspace}
        )
        stored = row["secret_sha256"] if row is not None else None
        if not tokens.matches(secret, stored) or row is None:
            raise Unauthenticated("invalid API token")
        if row["revoked"]:
            raise Unauthenticated("API token revoked")
        if row["expired"]:
            raise Unauthenticated("API token expired")
        name = row["workspace_name"] or workspace or DEFAULT_WORKSPACE
        scoped = row["token_workspace_id"]
        if row["workspace_id"] is None or (scoped is not None and scoped != row["workspace_id"]):
            # An unknown workspace and one this token may not enter look the same.
            raise PermissionDenied(f"no access to workspace {name}")
        return Caller(
            workspace_id=row["workspace_id"],
            workspace=name,
            user=row["user_name"],
            user_id=row["user_id"],
            is_admin=row["is_admin"],
            role=Role(row["role"]) if row["role"] else None,
            token_id=token_id,
            session=row["kind"] == "session",
        )

    async def open_session(self, who: Caller) -> tuple[str, dt.datetime]:
        """A UI session for ``who`` (authenticated by an API token) in ``who``'s workspace:
        the session token's text, shown to the browser only, and when it expires."""
        if who.token_id is None or who.session:
            raise Unauthenticated("log in with an API token")
        made = tokens.new_token()
        args = {
            "token_id": made.token_id,
            "workspace_id": who.workspace_id,
            "secret_sha256": made.secret_sha256,
            "hours": SESSION_HOURS,
            "parent_token_id": who.token_id,
        }
        async with self.transaction() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query("auth.open_session"), args)
            row = await cur.fetchone()
        if row is None:  # the parent was deleted between authentication and now
            raise Unauthenticated("invalid API token")
        expires_at: dt.datetime = row["expires_at"]
        return made.text, expires_at

    async def close_session(self, token_id: str) -> None:
        """Log a session out: its token is revoked, effective on its next request."""
        async with self.transaction() as conn:
            await conn.execute(query("auth.close_session"), {"token_id": token_id})

    async def visible_workspaces(self, caller: Caller) -> list[str]:
        """Names of the workspaces ``caller`` may enter."""
        args = {"all": caller.is_admin, "user_id": caller.user_id}
        async with self.read() as conn:
            cur = await conn.execute(query("auth.visible_workspaces"), args)
            return [str(row[0]) for row in await cur.fetchall()]

    async def create_workspace(self, name: str) -> None:
        async with self.transaction() as conn:
            await conn.execute(query("auth.create_workspace"), {"name": name})

    async def anonymous(self, headers: Headers) -> Caller:
        """Authentication off: full rights in the workspace the request names."""
        name = requested_workspace(headers)
        if name is None or name == DEFAULT_WORKSPACE:
            return anonymous()
        row = await self.read_row(query("auth.workspace_id"), {"name": name})
        if row is None:
            raise NotFound(f"workspace {name} does not exist")
        return anonymous(int(row["workspace_id"]), name)


def authorize(caller: Caller, level: Access) -> None:
    """Raise PermissionDenied unless ``caller`` may use a route declaring ``level``."""
    if caller.is_admin or level in (Access.PUBLIC, Access.AUTHENTICATED):
        return
    if level is Access.SERVER_ADMIN or level is Access.METRICS:
        raise PermissionDenied("this needs a server admin")
    needed = level.role
    if needed is None:  # pragma: no cover - every level is handled above or has a role
        raise PermissionDenied("refused")
    if caller.role is None:
        raise PermissionDenied(f"no access to workspace {caller.workspace}")
    if caller.role.rank < needed.rank:
        raise PermissionDenied(
            f"this needs the {needed.value} role in workspace {caller.workspace} "
            f"(you are {caller.role.value})"
        )


__all__ = [
    "DEFAULT_WORKSPACE_ID",
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "Identities",
    "authorize",
    "presented_token",
]
