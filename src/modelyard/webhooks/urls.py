"""Webhook URL safety: what may be called, checked when a webhook is saved and before each call.

A URL must be https; its host is resolved and every address checked against loopback, private
(RFC 1918, CGNAT, ULA...), link-local (the cloud metadata address 169.254.169.254), multicast and
reserved ranges. ``allow_private`` (``--webhook-allow-private``) lets plain http and loopback or
private addresses through, for local receivers and tests; link-local, multicast, unspecified and
reserved addresses are refused even then. The caller connects to one of the checked addresses
(:class:`Target`), never to the name again, so DNS cannot answer differently between the check
and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from modelyard.errors import UnsafeWebhookUrl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# host, port -> the addresses the host resolves to (textual IPs). Tests pass their own.
Resolver = Callable[[str, int], Awaitable[list[str]]]

MAX_URL_LENGTH = 2048
# Labels the C library would read as a number (inet_aton): 2130706433, 0177.0.0.1, 0x7f.1.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_FORBIDDEN_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")
# The form every accepted URL has, for the OpenAPI document and as parse()'s last word: a scheme,
# an authority without user info, then an optional path and query, no fragment. (The host's
# own rules and what it resolves to are checked by code: no pattern can say them.)
_URL_CHAR = r"[^\s\\\x00-\x1f\x7f#]"
URL_PATTERN = rf"^[hH][tT][tT][pP][sS]?://[^\s\\\x00-\x1f\x7f#@/?]+(?:[/?]{_URL_CHAR}*)?(?!\n)$"
_URL_FORM = re.compile(URL_PATTERN)
_HOST_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_](?:[a-z0-9_-]{0,62}))*$")


async def system_resolver(host: str, port: int) -> list[str]:
    """The host's addresses from the operating system's resolver."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeWebhookUrl(f"webhook host {host!r} does not resolve: {exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class ParsedUrl:
    """A webhook URL split into what the connection needs."""

    url: str
    scheme: str
    host: str  # lower case, IDNA-encoded, no brackets
    port: int
    target: str  # path and query, as sent on the request line

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Target:
    """A checked URL and the checked addresses to connect to."""

    parsed: ParsedUrl
    addresses: tuple[IPAddress, ...]


# NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 address reached.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form reaches: IPv4-mapped, 6to4 or NAT64 (else None)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why ``address`` may not be called, or None when it may."""
    if isinstance(address, ipaddress.IPv6Address):
        # Judged by the IPv4 address it carries: 6to4 of 127.0.0.1 is loopback all the same.
        address = embedded_ipv4(address) or address
    if address.is_link_local:
        return "a link-local address (cloud metadata lives there)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_reserved:
        return "a reserved address"
    if allow_private:
        return None
    if address.is_loopback:
        return "a loopback address"
    if not address.is_global:
        return "a private address"
    return None


def parse(url: str, *, allow_private: bool) -> ParsedUrl:
    """Check the URL's form (scheme, no userinfo, a canonical host); no network involved."""
    if not isinstance(url, str) or not 1 <= len(url) <= MAX_URL_LENGTH:
        raise UnsafeWebhookUrl(f"webhook URL must be 1 to {MAX_URL_LENGTH} characters")
    if _FORBIDDEN_CHARS.search(url):
        raise UnsafeWebhookUrl("webhook URL must not contain spaces, backslashes or controls")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise UnsafeWebhookUrl(
            "webhook URL must be https"
            + ("" if allow_private else " (http needs --webhook-allow-private)")
        )
    if "@" in parts.netloc:
        raise UnsafeWebhookUrl("webhook URL must not carry a user name or password")
    if "#" in url:
        raise UnsafeWebhookUrl("webhook URL must not have a fragment")
    if not _URL_FORM.search(url):
        raise UnsafeWebhookUrl("webhook URL must be SCHEME://HOST[:PORT][/PATH][?QUERY]")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeWebhookUrl("webhook URL has an invalid port") from None
    host = _canonical_host(parts.hostname or "")
    if port == 0:
        raise UnsafeWebhookUrl("webhook URL has an invalid port")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.isascii():
        raise UnsafeWebhookUrl("webhook URL path must be ASCII (percent-encode other characters)")
    return ParsedUrl(
        url=url,
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        target=target,
    )


def _canonical_host(raw: str) -> str:
    host = raw.rstrip(".").lower()
    if not host:
        raise UnsafeWebhookUrl("webhook URL has no host")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return str(address)
    if all(_NUMERIC_LABEL.match(label) for label in host.split(".")):
        raise UnsafeWebhookUrl(
            f"webhook host {raw!r} is a number in a non-standard spelling; write the address "
            "as four decimal parts or use a name"
        )
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        name = ""
    if not _HOST_NAME.match(name):
        raise UnsafeWebhookUrl(f"webhook host {raw!r} is not a valid host name")
    return name


async def check(url: str, *, allow_private: bool, resolver: Resolver) -> Target:
    """The URL checked and resolved; every address must pass, or the URL is refused."""
    parsed = parse(url, allow_private=allow_private)
    try:
        literal: IPAddress | None = ipaddress.ip_address(parsed.host)
    except ValueError:
        literal = None
    if literal is not None:
        found = [literal]
    elif not allow_private and (parsed.host == "localhost" or parsed.host.endswith(".localhost")):
        raise UnsafeWebhookUrl("webhook host localhost is a loopback name; refused")
    else:
        try:
            found = [
                ipaddress.ip_address(a.split("%")[0])
                for a in await resolver(parsed.host, parsed.port)
            ]
        except ValueError:
            raise UnsafeWebhookUrl(
                f"webhook host {parsed.host!r} resolved to a bad address"
            ) from None
    if not found:
        raise UnsafeWebhookUrl(f"webhook host {parsed.host!r} has no address")
    for address in found:
        reason = refusal(address, allow_private=allow_private)
        if reason is not None:
            # The resolved address is not echoed: that would map internal DNS for the caller.
            verb = "is" if literal is not None else "resolves to"
            raise UnsafeWebhookUrl(
                f"webhook host {parsed.host} {verb} {reason}; refused", host=parsed.host
            )
    return Target(parsed=parsed, addresses=tuple(found))
