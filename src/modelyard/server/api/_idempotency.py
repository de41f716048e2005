"""The ``Idempotency-Key`` header of the creating writes: one effect per key, retries replayed.

``@idempotent("runs.create")`` wraps a handler: a request with the header runs the handler in
the transaction that holds its receipt (:mod:`modelyard.store.idempotency`), and a retry with
the same key and the same request gets the stored answer (same status and body, marked with
``Idempotent-Replayed: true``) instead of a second effect. The same key with another request
(path or body) is a 409 ``IDEMPOTENCY_KEY_REUSED``. Keys belong to the workspace and the caller
(the token), so one tenant's key never replays another's answer. A request without the header
runs as before.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from modelyard.server.api._request import store
from modelyard.server.api._routing import Header
from modelyard.server.responses import read_body
from modelyard.store.idempotency import MAX_KEY_LENGTH, Answer, Receipt

Handler = Callable[[Request], Awaitable[Response]]

IDEMPOTENCY_KEY = Header(
    "Idempotency-Key",
    f"Up to {MAX_KEY_LENGTH} characters. A retry with the same key and the same request gets "
    "the first answer (same status and body, header Idempotent-Replayed: true) and has no "
    "second effect; the same key with another request is a 409 IDEMPOTENCY_KEY_REUSED. Keys "
    "are per workspace and per token, and kept for the receipt TTL (modelyard gc "
    "--receipts-older-than, 7 days by default). Failed requests are not remembered.",
)
REPLAYED_HEADER = "idempotent-replayed"


def request_digest(path: str, body: bytes) -> bytes:
    """sha256 of the request path and body: the same key for another target or body is a
    reuse, not a retry (a version of model A never answers a request for model B)."""
    return hashlib.sha256(path.encode() + b"\n" + body).digest()


def idempotent(operation: str) -> Callable[[Handler], Handler]:
    """Make a creating handler honour ``Idempotency-Key`` (decorator, under ``@access``)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def once(request: Request) -> Response:
            key = request.headers.get(IDEMPOTENCY_KEY.name)
            if key is None:
                return await handler(request)
            body = await read_body(request)
            receipt = Receipt(operation, key, request_digest(request.url.path, body))

            async def effect() -> Answer:
                response = await handler(request)
                return Answer(response.status_code, bytes(response.body))

            answer, replayed = await store(request).receipts.once(receipt, effect)
            headers = {REPLAYED_HEADER: "true"} if replayed else None
            return Response(
                answer.body,
                status_code=answer.status,
                media_type="application/json",
                headers=headers,
            )

        return once

    return wrap
