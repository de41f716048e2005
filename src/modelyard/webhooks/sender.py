"""One webhook POST, bounded: to a checked address only, no redirects, a deadline, a size cap.

The request goes to the IP address that :func:`modelyard.webhooks.urls.check` approved, with the
URL's name in the Host header and in TLS SNI (so the certificate is verified against the name).
A 3xx is a failed attempt, never followed. The whole exchange, connect to last byte, has one
deadline, and at most ``max_response_bytes`` of the answer are read, so a receiver that trickles
or floods cannot hold a dispatcher slot for longer than the timeout.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

import httpx

from modelyard.webhooks.urls import Target

MAX_RESPONSE_BYTES = 64 * 1024
KEPT_BODY_CHARS = 1024


@dataclass(frozen=True)
class Outcome:
    """What one attempt gave: a status (or an error), the latency, the start of the body."""

    status: int | None
    latency_ms: float
    error: str | None = None
    body: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(exc).__name__}: {detail}"[:300] if detail else type(exc).__name__


class Sender:
    """Sends webhook POSTs; one per call, on a fresh connection (never shared between names)."""

    def __init__(
        self,
        *,
        timeout: float,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.timeout = timeout
        self._max_bytes = max_response_bytes
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,  # a proxy would make the checked address the proxy's
            limits=httpx.Limits(max_keepalive_connections=0),
            verify=verify,
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(self, target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(target, body, headers, started)
        except TimeoutError:
            return Outcome(None, _ms(started), f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Outcome(None, _ms(started), _short(exc))
        except (OSError, ssl.SSLError) as exc:
            return Outcome(None, _ms(started), _short(exc))

    async def _post(
        self, target: Target, body: bytes, headers: dict[str, str], started: float
    ) -> Outcome:
        parsed = target.parsed
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        last_error: httpx.ConnectError | None = None
        for address in target.addresses:
            url = httpx.URL(
                scheme=parsed.scheme,
                host=str(address),
                port=parsed.port,
                raw_path=parsed.target.encode("ascii", "strict"),
            )
            request = self._client.build_request(
                "POST",
                url,
                content=body,
                headers={**headers, "Host": parsed.host_header},
                extensions=extensions,
            )
            try:
                response = await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last_error = exc  # try the next checked address
                continue
            try:
                kept = await self._read_capped(response)
            finally:
                await response.aclose()
            return Outcome(response.status_code, _ms(started), body=kept)
        assert last_error is not None
        raise last_error

    async def _read_capped(self, response: httpx.Response) -> str:
        data = bytearray()
        async for chunk in response.aiter_raw():
            data += chunk
            if len(data) >= self._max_bytes:
                break
        return bytes(data[: KEPT_BODY_CHARS * 4]).decode("utf-8", "replace")[:KEPT_BODY_CHARS]


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)
