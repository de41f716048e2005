"""The caller of a request: who acts, in which workspace, with which role.

The guard makes one per request, before the handler runs, and keeps it in a context variable
that travels with the request's task into every transaction it opens.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from modelyard.auth.access import Role

DEFAULT_WORKSPACE = "default"
DEFAULT_WORKSPACE_ID = 1


@dataclass(frozen=True)
class Caller:
    """Who a request acts as. ``user`` is None when authentication is off."""

    workspace_id: int
    workspace: str
    user: str | None = None
    user_id: int | None = None
    is_admin: bool = False
    role: Role | None = None
    token_id: str | None = None
    # Authenticated by a UI session (a browser's cookie), not by an API token.
    session: bool = False
    # The request's id (X-Request-ID), recorded with the events its changes write.
    request_id: str | None = None
    # The address the request came from (the ASGI client), recorded in the audit log.
    client_addr: str | None = None

    @property
    def authenticated(self) -> bool:
        return self.user is not None


# Authentication off: every request acts with full rights in the workspace it names.
def anonymous(
    workspace_id: int = DEFAULT_WORKSPACE_ID, workspace: str = DEFAULT_WORKSPACE
) -> Caller:
    return Caller(workspace_id=workspace_id, workspace=workspace, is_admin=True, role=Role.ADMIN)


_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "modelyard_caller", default=None
)


def current() -> Caller | None:
    """The caller of the request being handled, or None outside a request."""
    return _current.get()


def enter(caller: Caller) -> contextvars.Token[Caller | None]:
    return _current.set(caller)


def leave(token: contextvars.Token[Caller | None]) -> None:
    _current.reset(token)


@contextmanager
def background(workspace_id: int, workspace: str) -> Iterator[Caller]:
    """Act in one workspace outside a request (the webhook dispatcher): every transaction
    opened in the block is scoped to it, so row-level security shows that workspace's rows.

    Background jobs that cover every workspace go through them one by one this way, as the
    runtime role, instead of through a function that bypasses row-level security.
    """
    acting = Caller(workspace_id=workspace_id, workspace=workspace)
    token = enter(acting)
    try:
        yield acting
    finally:
        leave(token)
