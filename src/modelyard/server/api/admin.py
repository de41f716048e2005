"""``/admin/...``: workspaces, users, members and tokens over HTTP, for server admins.

The same operations as ``modelyard workspaces|users|members|tokens`` (:mod:`modelyard.auth.admin`
is what both run), each declaring ``Access.SERVER_ADMIN``. A new token is in the answer of the
request that made it and nowhere else: listings carry ids, users, workspaces and dates only.

These are rare operations, so each runs the CLI's own synchronous functions in a worker thread on
a connection of its own, in one transaction, instead of a second async copy of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import msgspec
from anyio import to_thread
from msgspec import Meta
from starlette.requests import Request
from starlette.responses import Response

from modelyard import limits
from modelyard.auth import admin
from modelyard.auth.access import Access, Role, access
from modelyard.server.api._request import no_content, path_str
from modelyard.server.api._routing import ApiRoute, Query
from modelyard.server.api.schemas import Body
from modelyard.server.responses import JSON, decode

T = TypeVar("T")

# The rules auth.admin checks (modelyard.limits), stated in the OpenAPI document.
UserName = Annotated[str, Meta(extra_json_schema=limits.USER_NAME_SCHEMA)]
WorkspaceName = Annotated[str, Meta(extra_json_schema=limits.WORKSPACE_NAME_SCHEMA)]
Name = Annotated[str, Meta(min_length=1, max_length=128)]
RoleName = Literal["reader", "editor", "admin"]
Duration = Annotated[
    str,
    Meta(
        extra_json_schema=limits.DURATION_SCHEMA,
        description="30d, 12h, 90m or 2w; absent: no expiry",
    ),
]


class CreateWorkspace(Body):
    name: WorkspaceName


class CreateUser(Body):
    name: UserName
    admin: bool = False
    service: bool = False


class AddMember(Body):
    """Adding a member already there changes its role."""

    workspace: Name
    user: Name
    role: RoleName


class CreateToken(Body):
    user: Name
    workspace: Name | None = None
    expires: Duration | None = None


class WorkspaceInfo(msgspec.Struct):
    workspace_id: int
    name: str
    created_at: int


class UserInfo(msgspec.Struct):
    user_id: int
    name: str
    kind: str
    is_admin: bool
    created_at: int


class MemberInfo(msgspec.Struct):
    workspace: str
    user: str
    role: str
    created_at: int | None = None  # in listings


class TokenInfo(msgspec.Struct):
    """A token as listed: never the token itself, nor its hash."""

    token_id: str
    user: str
    workspace: str | None
    # "api" (made by an admin) or "session" (a browser's, opened by logging in to the UI).
    kind: Literal["api", "session"]
    created_at: int
    expires_at: int | None
    revoked_at: int | None


class NewToken(msgspec.Struct):
    """``token`` appears in this answer only; it is stored as a hash."""

    token_id: str
    user: str
    workspace: str | None
    created_at: int
    expires_at: int | None
    token: str


class Workspaces(msgspec.Struct):
    items: list[WorkspaceInfo]


class Users(msgspec.Struct):
    items: list[UserInfo]


class Members(msgspec.Struct):
    items: list[MemberInfo]


class Tokens(msgspec.Struct):
    items: list[TokenInfo]


USER = Query("user", "Only this user's tokens.")
WORKSPACE = Query("workspace", "Only this workspace's members.")


async def _in_transaction(request: Request, work: Callable[[admin.Conn], T]) -> T:
    conninfo: str = request.app.state.conninfo
    schema: str = request.app.state.settings.schema

    def run() -> T:
        with admin.connect(conninfo, schema) as conn:
            return work(conn)

    return await to_thread.run_sync(run)


def _times_in_ms(row: dict[str, Any]) -> dict[str, Any]:
    """Times as milliseconds since the epoch, the API's convention (docs/api.md)."""
    return {
        key: int(value.timestamp() * 1000) if isinstance(value, dt.datetime) else value
        for key, value in row.items()
    }


def _listing(rows: list[dict[str, Any]]) -> Response:
    return JSON({"items": [_times_in_ms(row) for row in rows]})


@access(Access.SERVER_ADMIN)
async def create_workspace(request: Request) -> Response:
    body = await decode(request, CreateWorkspace)
    made = await _in_transaction(request, lambda c: admin.create_workspace(c, body.name))
    return JSON(_times_in_ms(made), status_code=201)


@access(Access.SERVER_ADMIN)
async def list_workspaces(request: Request) -> Response:
    return _listing(await _in_transaction(request, admin.list_workspaces))


@access(Access.SERVER_ADMIN)
async def create_user(request: Request) -> Response:
    body = await decode(request, CreateUser)
    made = await _in_transaction(
        request, lambda c: admin.create_user(c, body.name, admin=body.admin, service=body.service)
    )
    return JSON(_times_in_ms(made), status_code=201)


@access(Access.SERVER_ADMIN)
async def list_users(request: Request) -> Response:
    return _listing(await _in_transaction(request, admin.list_users))


@access(Access.SERVER_ADMIN)
async def add_member(request: Request) -> Response:
    body = await decode(request, AddMember)
    role = Role(body.role)
    added = await _in_transaction(
        request, lambda c: admin.add_member(c, body.workspace, body.user, role)
    )
    return JSON(added, status_code=201)


@access(Access.SERVER_ADMIN)
async def list_members(request: Request) -> Response:
    workspace = WORKSPACE.parse(request)
    return _listing(await _in_transaction(request, lambda c: admin.list_members(c, workspace)))


@access(Access.SERVER_ADMIN)
async def remove_member(request: Request) -> Response:
    workspace, user = path_str(request, "workspace"), path_str(request, "user")
    await _in_transaction(request, lambda c: admin.remove_member(c, workspace, user))
    return no_content()


@access(Access.SERVER_ADMIN)
async def create_token(request: Request) -> Response:
    body = await decode(request, CreateToken)
    expires_in = admin.parse_duration(body.expires) if body.expires is not None else None
    made = await _in_transaction(
        request,
        lambda c: admin.create_token(c, body.user, workspace=body.workspace, expires_in=expires_in),
    )
    return JSON(_times_in_ms(made), status_code=201, headers={"cache-control": "no-store"})


@access(Access.SERVER_ADMIN)
async def list_tokens(request: Request) -> Response:
    user = USER.parse(request)
    return _listing(await _in_transaction(request, lambda c: admin.list_tokens(c, user)))


@access(Access.SERVER_ADMIN)
async def revoke_token(request: Request) -> Response:
    token_id = path_str(request, "token_id")
    revoked = await _in_transaction(request, lambda c: admin.revoke_token(c, token_id))
    return JSON(_times_in_ms(revoked))


class Revoked(msgspec.Struct):
    token_id: str
    revoked_at: int


routes = [
    ApiRoute(
        "POST",
        "/admin/workspaces",
        create_workspace,
        summary="Create a workspace (server admins)",
        status=201,
        body=CreateWorkspace,
        response=WorkspaceInfo,
    ),
    ApiRoute(
        "GET",
        "/admin/workspaces",
        list_workspaces,
        summary="List workspaces (server admins)",
        response=Workspaces,
    ),
    ApiRoute(
        "POST",
        "/admin/users",
        create_user,
        summary="Create a user or service account, optionally a server admin (server admins)",
        status=201,
        body=CreateUser,
        response=UserInfo,
    ),
    ApiRoute(
        "GET", "/admin/users", list_users, summary="List users (server admins)", response=Users
    ),
    ApiRoute(
        "POST",
        "/admin/members",
        add_member,
        summary="Give a user a role in a workspace, or change it (server admins)",
        status=201,
        body=AddMember,
        response=MemberInfo,
    ),
    ApiRoute(
        "GET",
        "/admin/members",
        list_members,
        summary="List workspace members (server admins)",
        response=Members,
        query=(WORKSPACE,),
    ),
    ApiRoute(
        "DELETE",
        "/admin/members/{workspace}/{user}",
        remove_member,
        summary="Take a user out of a workspace (server admins)",
        status=204,
    ),
    ApiRoute(
        "POST",
        "/admin/tokens",
        create_token,
        summary="Create an API token; the token is in this answer only (server admins)",
        status=201,
        body=CreateToken,
        response=NewToken,
    ),
    ApiRoute(
        "GET",
        "/admin/tokens",
        list_tokens,
        summary="List tokens: ids, users, workspaces, dates, never the token (server admins)",
        response=Tokens,
        query=(USER,),
    ),
    ApiRoute(
        "POST",
        "/admin/tokens/{token_id}/revoke",
        revoke_token,
        summary="Revoke a token, from its next request on (server admins)",
        response=Revoked,
    ),
]
