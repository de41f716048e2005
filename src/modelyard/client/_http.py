"""The HTTP layer of the client: one keep-alive connection pool, JSON, and typed errors.

Error responses carry the server's JSON error shape; they come back here as the same exception
classes the server raised (:func:`modelyard.errors.error_from_dict`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import httpx
import msgspec

from modelyard.client.buffer import is_transient
from modelyard.errors import DatabaseUnavailable, InvalidInput, ModelyardError, error_from_dict

# A creating call is sent at most this many times, waiting 0.2 s, 0.4 s, ... between attempts:
# enough to ride out a dropped connection or a server restart, short of hiding an outage.
CREATE_ATTEMPTS = 5

DEFAULT_URL = "http://127.0.0.1:5000"
_GATEWAY_STATUSES = frozenset({502, 503, 504})
_encoder = msgspec.json.Encoder()


WORKSPACE_HEADER = "X-Modelyard-Workspace"


def auth_headers(token: str | None, workspace: str | None) -> dict[str, str]:
    """``Authorization`` from ``token`` or ``MODELYARD_TOKEN``; the workspace header if given."""
    headers: dict[str, str] = {}
    token = token or os.environ.get("MODELYARD_TOKEN")
    if token:
        headers["authorization"] = f"Bearer {token}"
    workspace = workspace or os.environ.get("MODELYARD_WORKSPACE")
    if workspace:
        headers[WORKSPACE_HEADER] = workspace
    return headers


def resolve_url(url: str | None) -> str:
    """The server URL: the argument, else ``MODELYARD_URL``, else the local default."""
    return (url or os.environ.get("MODELYARD_URL") or DEFAULT_URL).rstrip("/")


class ServerUnreachable(DatabaseUnavailable):
    """The server did not answer (refused, reset, timed out); the request may be retried."""

    code = "SERVER_UNREACHABLE"


class HttpSession:
    """A thread-safe JSON-over-HTTP session to one modelyard server."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
        workspace: str | None = None,
    ) -> None:
        self.url = resolve_url(url)
        try:
            self._http = httpx.Client(
                base_url=f"{self.url}/api/v1",
                timeout=timeout,
                transport=transport,
                headers={"user-agent": "modelyard-client", **auth_headers(token, workspace)},
            )
        except httpx.InvalidURL as exc:
            raise InvalidInput(f"invalid server URL {self.url!r}: {exc}", field="url") from exc

    def create(self, path: str, body: Any, key: str) -> Any:
        """POST a creating request with idempotency key ``key``, retrying transient failures
        with the same key (the server replays the first answer if it was stored)."""
        headers = {"idempotency-key": key}
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            try:
                return self.request("POST", path, body=body, headers=headers)
            except Exception as exc:
                if attempt == CREATE_ATTEMPTS or not is_transient(exc):
                    raise
            time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Send one request; the decoded JSON answer, or the typed error the server reported."""
        content = None if body is None else _encoder.encode(body)
        send_headers = {"content-type": "application/json"} if content is not None else {}
        if headers:
            send_headers.update(headers)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method, path, content=content, params=query, headers=send_headers
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            # Not transient: retrying a URL that cannot be sent would only wait in vain.
            raise InvalidInput(f"cannot send {method} {path[:100]} to {self.url}: {exc}") from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach modelyard at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        return msgspec.json.decode(response.content)

    def send_stream(
        self, method: str, path: str, *, content: Iterable[bytes], headers: dict[str, str]
    ) -> httpx.Response:
        """Send a streamed request body (an artifact upload); the response, errors not raised
        (see :func:`raise_for`), transport failures as :class:`ServerUnreachable`."""
        try:
            return self._http.request(method, path, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise ServerUnreachable(f"cannot reach modelyard at {self.url}: {exc}") from exc

    def raw(self) -> httpx.Client:
        """The underlying client (base URL ``<server>/api/v1``), for streamed bodies."""
        return self._http

    def close(self) -> None:
        self._http.close()


def raise_for(response: httpx.Response) -> None:
    """Raise the typed error of an error response (for callers of :meth:`HttpSession.raw`)."""
    if response.status_code >= 400:
        response.read()
        raise _error_of(response)


def _error_of(response: httpx.Response) -> ModelyardError:
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        text = response.text.strip().splitlines()[0] if response.text.strip() else ""
        if response.status_code in _GATEWAY_STATUSES:
            # A proxy or load balancer in front of the server answered: not the server's verdict.
            status = response.status_code
            return ServerUnreachable(f"HTTP {status} from {response.url.host}: {text}")
        return ModelyardError(f"HTTP {response.status_code} from server: {text}")
    return error_from_dict(body, response.status_code)
