"""Every request gets an id: the caller's ``X-Request-ID`` when it is sane, else a fresh one.

The id is answered in the ``X-Request-ID`` response header and written to every log record of a
failure, so a person quoting the id of a 500 points the operator at its log line (the response
itself never carries the server's internals). It lives in ``request.state.request_id``.
"""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_RAW = HEADER.encode("latin-1")
# A proxy's id is kept when it looks like one; anything else could forge log lines.
_SANE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_of(request: Request) -> str:
    """The id of ``request`` (made by the middleware; a fresh one outside it)."""
    found = getattr(request.state, "request_id", None)
    return found if isinstance(found, str) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Gives each HTTP request its id and answers it in ``X-Request-ID``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(_RAW, b"").decode("latin-1")
        request_id = given if _SANE.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _RAW]
                headers.append((_RAW, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
