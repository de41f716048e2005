"""Permission levels, workspace roles, and how a route declares the level it needs.

A handler declares its level with ``@access(Access.READ)``; a route whose app is not a function
(a static-files mount) is given one with :func:`protect`. :func:`declared` reads either. The guard
refuses every request to a route that declares nothing, and ``tests/server/test_routes_declared.py``
fails on such a route, so forgetting is loud instead of open.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

_ATTRIBUTE = "__modelyard_access__"


class Role(enum.Enum):
    """A user's role in one workspace; each includes the ones before it."""

    READER = "reader"
    EDITOR = "editor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.READER: 1, Role.EDITOR: 2, Role.ADMIN: 3}


class Access(enum.Enum):
    """What a route needs from its caller."""

    # Anyone, without credentials: health checks, the login page, static assets.
    PUBLIC = "public"
    # Open or server-admin only, as --metrics-auth says.
    METRICS = "metrics"
    # Any authenticated caller, whatever its workspace role (who am I).
    AUTHENTICATED = "authenticated"
    # A role in the request's workspace.
    READ = "read"
    WRITE = "write"
    MANAGE = "manage"
    # The server-wide admin: users, workspaces, tokens.
    SERVER_ADMIN = "server_admin"

    @property
    def role(self) -> Role | None:
        """The workspace role this level needs, if it is a workspace level."""
        return _NEEDS.get(self)


_NEEDS = {Access.READ: Role.READER, Access.WRITE: Role.EDITOR, Access.MANAGE: Role.ADMIN}


def access(level: Access) -> Callable[[F], F]:
    """Declare the level a handler needs (decorator)."""

    def declare(handler: F) -> F:
        setattr(handler, _ATTRIBUTE, level)
        return handler

    return declare


def protect(route: R, level: Access) -> R:
    """Declare ``level`` on a route object itself (mounts of ASGI apps, e.g. static files)."""
    setattr(route, _ATTRIBUTE, level)
    return route


def declared(route: object) -> Access | None:
    """The level ``route`` declares (on itself or on its endpoint), or None."""
    found = getattr(route, _ATTRIBUTE, None)
    if found is None:
        found = getattr(getattr(route, "endpoint", None), _ATTRIBUTE, None)
    return found if isinstance(found, Access) else None
