"""Logging in to the UI with an API token, and out again.

The login form takes an API token (the secret a person already holds; the UI keeps no
passwords) and, optionally, the workspace to work in. The server checks it exactly as it checks
an ``Authorization`` header, then opens a *session*: a token of its own, of kind ``session``,
expiring after ``SESSION_HOURS`` or with the API token if that comes first, held by the browser
in an HttpOnly, SameSite=Strict cookie (Secure over https). The API token itself is never put in
a cookie, and logging out revokes that one session. Both forms carry the CSRF token, the login
form too, so another site cannot log a browser in as someone else.
"""

from __future__ import annotations

import datetime as dt

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from modelyard.auth import caller
from modelyard.auth.access import Access, access
from modelyard.auth.credentials import SESSION_COOKIE, SESSION_HOURS, Identities
from modelyard.errors import PermissionDenied, Unauthenticated
from modelyard.server.ui._csrf import checked_form
from modelyard.server.ui._flash import redirect, safe_location
from modelyard.server.ui._render import page, render

LOGIN = "/ui/login"


def _field(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return value.strip() if isinstance(value, str) else ""


def _form(
    request: Request, *, target: str, workspace: str, error: str = "", status: int = 200
) -> Response:
    return render(
        request,
        "login.html",
        status=status,
        title="Log in",
        auth=request.app.state.settings.auth,
        next=target,
        workspace=workspace,
        error=error,
        session_hours=SESSION_HOURS,
    )


@access(Access.PUBLIC)
@page
async def login_page(request: Request) -> Response:
    target = safe_location(request.query_params.get("next", "/"))
    return _form(request, target=target, workspace=request.query_params.get("workspace", ""))


async def _login_caller(identities: Identities, token: str, workspace: str) -> caller.Caller:
    """The caller ``token`` authenticates in ``workspace`` (none given: the token's own, else
    the only workspace its user belongs to, else ``default``), who must have a role there."""

    def headers(name: str) -> Headers:
        raw = {"authorization": f"Bearer {token}"}
        return Headers({**raw, "x-modelyard-workspace": name} if name else raw)

    who = await identities.caller(headers(workspace))
    if who.session:
        raise Unauthenticated("log in with an API token")
    if not workspace and who.role is None and not who.is_admin:
        names = await identities.visible_workspaces(who)
        if len(names) == 1:
            who = await identities.caller(headers(names[0]))
    if who.role is None and not who.is_admin:
        raise PermissionDenied(f"no access to workspace {who.workspace}")
    return who


@access(Access.PUBLIC)
@page
async def login(request: Request) -> Response:
    form = await checked_form(request)
    target = safe_location(_field(form, "next") or "/")
    if not request.app.state.settings.auth:
        return redirect(target)
    token, workspace = _field(form, "token"), _field(form, "workspace")
    identities: Identities = request.app.state.identities
    try:
        who = await _login_caller(identities, token, workspace)
    except (Unauthenticated, PermissionDenied) as exc:
        # The form again, saying what went wrong (a token holder learns nothing here the API
        # would not tell them). A 200, as for any form shown again: the refusal is the page's.
        return _form(request, target=target, workspace=workspace, error=exc.message)
    text, expires_at = await identities.open_session(who)
    response = redirect(target, f"Logged in as {who.user} in workspace {who.workspace}")
    response.set_cookie(
        SESSION_COOKIE,
        text,
        # The cookie lives as long as the session: up to SESSION_HOURS, less when the API
        # token expires sooner.
        max_age=max(0, int((expires_at - dt.datetime.now(dt.UTC)).total_seconds())),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@access(Access.AUTHENTICATED)
@page
async def logout(request: Request) -> Response:
    await checked_form(request)
    who = caller.current()
    if who is not None and who.session and who.token_id is not None:
        identities: Identities = request.app.state.identities
        await identities.close_session(who.token_id)
    response = redirect(LOGIN, "Logged out")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
