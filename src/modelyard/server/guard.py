"""Deny by default: every mounted route is wrapped so its handler runs only for allowed callers.

:func:`guard_routes` walks the router (through every ``Mount``) when the app is built and puts a
:class:`Guard` in front of each leaf route's ASGI app with the level the route declares; a route
that declares none gets a guard that refuses every request. A route added later to any module is
covered without anyone remembering to list it. Every router's route list becomes a
:class:`GuardedRoutes`, so a route appended after the app was built (``app.add_route``,
``app.mount``, ``router.routes.append``) is guarded as it goes in; the app guards its routes once
more when it starts, for a list that was replaced wholesale. :func:`leaf_routes` is the same walk,
for tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, SupportsIndex
from urllib.parse import urlencode

from starlette.datastructures import Headers
from starlette.requests import Request, cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from modelyard.auth import caller as caller_context
from modelyard.auth.access import Access, declared
from modelyard.auth.credentials import SESSION_COOKIE, Identities, authorize
from modelyard.errors import ModelyardError, PermissionDenied
from modelyard.server.responses import JSON, error_response
from modelyard.server.ui._render import render
from modelyard.store.audit import SERVER_CHAIN, AuditLog, Denial

_log = logging.getLogger(__name__)

# The MLflow-compatible API answers in MLflow's error shape, which its client parses.
MLFLOW_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/", "/api/3.0/mlflow")


@dataclass(frozen=True)
class Leaf:
    """One mounted route: its full path, methods (None: any) and the level it declares."""

    path: str
    methods: frozenset[str] | None
    route: BaseRoute
    access: Access | None


def leaf_routes(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Leaf]:
    """Every route that answers requests, with the mounts' prefixes joined onto its path."""
    for route in routes:
        if isinstance(route, Mount | Host) and route.routes:
            yield from leaf_routes(route.routes, prefix + getattr(route, "path", ""))
            continue
        methods = getattr(route, "methods", None)
        yield Leaf(
            path=prefix + str(getattr(route, "path", "")),
            methods=frozenset(methods) if methods else None,
            route=route,
            access=declared(route),
        )


def guard_routes(routes: Iterable[BaseRoute]) -> None:
    """Put a :class:`Guard` in front of every leaf route, now and when added later (idempotent)."""
    for route in routes:
        inner = _router_of(route)
        if inner is not None:
            if isinstance(inner.routes, GuardedRoutes):
                guard_routes(inner.routes)
            else:
                inner.routes = GuardedRoutes(inner.routes)  # which guards them as it takes them
        elif isinstance(route, Route | WebSocketRoute | Mount) and not isinstance(route.app, Guard):
            route.app = Guard(route.app, declared(route))


def guard_router(router: Router) -> None:
    """Guard ``router``'s routes and every route put into its (or its mounts') lists later."""
    if isinstance(router.routes, GuardedRoutes):
        guard_routes(router.routes)
    else:
        router.routes = GuardedRoutes(router.routes)


def _router_of(route: BaseRoute) -> Router | None:
    """The router a ``Mount(routes=...)`` or ``Host`` dispatches to, if it has one."""
    if isinstance(route, Mount):
        base = getattr(route, "_base_app", None)
        return base if isinstance(base, Router) else None
    if isinstance(route, Host) and isinstance(route.app, Router):
        return route.app
    return None


class GuardedRoutes(list[BaseRoute]):
    """A router's list of routes that guards each route as it is put in."""

    def __init__(self, routes: Iterable[BaseRoute] = ()) -> None:
        items = list(routes)
        guard_routes(items)
        super().__init__(items)

    def append(self, route: BaseRoute) -> None:
        guard_routes([route])
        super().append(route)

    def insert(self, index: SupportsIndex, route: BaseRoute) -> None:
        guard_routes([route])
        super().insert(index, route)

    def extend(self, routes: Iterable[BaseRoute]) -> None:
        items = list(routes)
        guard_routes(items)
        super().extend(items)

    def __iadd__(self, routes: Iterable[BaseRoute]) -> GuardedRoutes:  # type: ignore[override,misc]
        self.extend(routes)
        return self

    def __setitem__(self, index: Any, value: Any) -> None:
        guard_routes(list(value) if isinstance(index, slice) else [value])
        super().__setitem__(index, value)


class Guard:
    """An ASGI app that authorizes the request, then hands it to the route's own app."""

    def __init__(self, app: ASGIApp, level: Access | None) -> None:
        self.app = app
        self.level = level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        attempt = _Attempt()
        try:
            who = await self._caller(scope, attempt)
        except ModelyardError as exc:
            await _record_refusal(scope, attempt, exc)
            await _refusal(scope, exc)(scope, receive, send)
            return
        if who is not None:
            who = replace(who, request_id=_request_id(scope), client_addr=_client_addr(scope))
        token = caller_context.enter(who) if who is not None else None
        try:
            await self.app(scope, receive, send)
        finally:
            if token is not None:
                caller_context.leave(token)

    async def _caller(
        self, scope: Scope, attempt: _Attempt
    ) -> caller_context.Caller | None:
        if self.level is None:
            raise PermissionDenied("this route declares no permission, so it refuses every request")
        state = scope["app"].state
        level = self.level
        if level is Access.METRICS and not state.settings.metrics_auth:
            level = Access.PUBLIC
        if level is Access.PUBLIC:
            return None
        identities: Identities = state.identities
        headers = Headers(scope=scope)
        if not state.settings.auth:
            return await identities.anonymous(headers)
        # The session cookie counts on the UI's routes only: their forms carry CSRF tokens,
        # while the APIs take no cookie, so another site can make no browser act on them.
        session = _session_cookie(headers) if is_ui_path(str(scope.get("path", ""))) else None
        who = await identities.caller(headers, session=session)
        attempt.who = who
        authorize(who, level)
        return who


@dataclass
class _Attempt:
    """How far a request got before it was refused: the caller, once its token was known."""

    who: caller_context.Caller | None = None


def _request_id(scope: Scope) -> str | None:
    found = scope.get("state", {}).get("request_id")
    return str(found) if found else None


def _client_addr(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


async def _record_refusal(scope: Scope, attempt: _Attempt, exc: ModelyardError) -> None:
    """Write the refusal to the audit log, in its own transaction. A failure to write it is
    logged and the request is refused all the same: the log must not turn a refusal into a 500.
    """
    audit: AuditLog | None = getattr(scope["app"].state, "audit", None)
    if audit is None:  # an app not started (its lifespan makes the log)
        return
    who = attempt.who
    denial = Denial(
        method=str(scope.get("method", "WEBSOCKET")),
        path=str(scope.get("path", "")),
        status=exc.http_status,
        code=exc.code,
        reason=exc.message,
        workspace_id=who.workspace_id if who is not None else SERVER_CHAIN,
        user=who.user if who is not None else None,
        token_id=who.token_id if who is not None else None,
        request_id=_request_id(scope),
        client_addr=_client_addr(scope),
    )
    try:
        await audit.record_denial(denial)
    except ModelyardError:
        _log.exception("could not record a refused request in the audit log")


def is_ui_path(path: str) -> bool:
    return path == "/" or path == "/ui" or path.startswith("/ui/")


def _session_cookie(headers: Headers) -> str | None:
    cookies = cookie_parser(headers.get("cookie", ""))
    return cookies.get(SESSION_COOKIE) or None


def _refusal(scope: Scope, exc: ModelyardError) -> Response:
    headers = {"www-authenticate": 'Bearer realm="modelyard"'} if exc.http_status == 401 else {}
    path = str(scope.get("path", ""))
    if is_ui_path(path):
        return _ui_refusal(scope, exc)
    if path.startswith(MLFLOW_PREFIXES):
        response = JSON({"error_code": exc.code, "message": exc.message}, exc.http_status)
    else:
        response = error_response(exc.http_status, exc.code, exc.message, exc.details)
    response.headers.update(headers)
    return response


def _ui_refusal(scope: Scope, exc: ModelyardError) -> Response:
    """A person in a browser is sent to the login page (htmx: told to go there), or shown the
    UI's error page, rather than a JSON body."""
    request = Request(scope)
    if exc.http_status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = "/ui/login?" + urlencode({"next": target})
        if request.headers.get("hx-request") == "true":
            return Response(status_code=401, headers={"hx-redirect": location})
        return RedirectResponse(location, status_code=303)
    return render(request, "error.html", status=exc.http_status, title="Error", error=exc)
