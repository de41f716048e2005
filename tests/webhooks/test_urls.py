"""The SSRF corpus against the URL rules alone (no database, no network: a test resolver)."""

from __future__ import annotations

import pytest

from modelyard.errors import UnsafeWebhookUrl
from modelyard.webhooks import urls

pytestmark = pytest.mark.anyio

# name -> addresses the test resolver answers; everything else resolves to a public address.
NAMES = {
    "public-looking.example.com": ["127.0.0.1"],
    "mixed.example.com": ["93.184.216.34", "10.0.0.1"],
    "metadata.example.com": ["169.254.169.254"],
    "v6-loopback.example.com": ["::1"],
}


async def resolver(host: str, port: int) -> list[str]:
    return NAMES.get(host, ["93.184.216.34"])


# Refused with or without --webhook-allow-private... (url, refused even when private allowed)
CORPUS = [
    ("https://127.0.0.1/hook", False),
    ("https://127.1.2.3/hook", False),
    ("https://localhost/hook", False),  # a loopback name whatever DNS says
    ("https://10.0.0.5/hook", False),
    ("https://172.16.0.1/hook", False),
    ("https://192.168.1.1/hook", False),
    ("https://100.64.0.1/hook", False),
    ("https://169.254.169.254/latest/meta-data/", True),
    ("https://[fe80::1]/hook", True),
    ("https://[::1]/hook", False),
    ("https://[::ffff:127.0.0.1]/hook", False),
    ("https://[::ffff:169.254.169.254]/hook", True),
    ("https://[fd00::1]/hook", False),
    ("https://[fc00::1]/hook", False),
    ("https://224.0.0.1/hook", True),
    ("https://[ff02::1]/hook", True),
    ("https://0.0.0.0/hook", True),
    ("https://[::]/hook", True),
    ("https://2130706433/hook", True),  # decimal 127.0.0.1
    ("https://0177.0.0.1/hook", True),  # octal
    ("https://0x7f.0.0.1/hook", True),  # hex
    ("https://0x7f000001/hook", True),
    ("https://127.1/hook", True),  # short form
    ("https://017700000001/hook", True),
    ("https://user:pass@93.184.216.34/hook", True),  # userinfo
    ("https://93.184.216.34@127.0.0.1/hook", True),
    ("https://public.example.com@127.0.0.1/hook", True),
    ("https://public.example.com%40127.0.0.1/hook", True),
    ("https://127.0.0.1\\@public.example.com/hook", True),
    ("https://public-looking.example.com/hook", False),  # resolves to 127.0.0.1
    ("https://mixed.example.com/hook", False),  # one private address is enough
    ("https://metadata.example.com/hook", True),
    ("https://v6-loopback.example.com/hook", False),
    ("ftp://93.184.216.34/hook", True),
    ("file:///etc/passwd", True),
    ("https:///hook", True),
    ("https://93.184.216.34:0/hook", True),
    ("https://93.184.216.34/hook#frag", True),
]


@pytest.mark.parametrize(("url", "always"), CORPUS)
async def test_refused_without_allow_private(url: str, always: bool) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        await urls.check(url, allow_private=False, resolver=resolver)


@pytest.mark.parametrize(("url", "always"), [c for c in CORPUS if c[1]])
async def test_refused_even_with_allow_private(url: str, always: bool) -> None:
    with pytest.raises(UnsafeWebhookUrl):
        await urls.check(url, allow_private=True, resolver=resolver)


async def test_http_needs_allow_private() -> None:
    with pytest.raises(UnsafeWebhookUrl, match="https"):
        await urls.check("http://93.184.216.34/hook", allow_private=False, resolver=resolver)
    target = await urls.check("http://127.0.0.1:8080/h?x=1", allow_private=True, resolver=resolver)
    assert (target.parsed.port, target.parsed.target) == (8080, "/h?x=1")


async def test_public_url_is_pinned_to_the_checked_address() -> None:
    target = await urls.check(
        "https://Hooks.Example.com:8443/path?q=1", allow_private=False, resolver=resolver
    )
    assert [str(a) for a in target.addresses] == ["93.184.216.34"]
    assert target.parsed.host == "hooks.example.com"
    assert target.parsed.host_header == "hooks.example.com:8443"


async def test_refusal_does_not_echo_the_resolved_address() -> None:
    with pytest.raises(UnsafeWebhookUrl) as caught:
        await urls.check("https://mixed.example.com/hook", allow_private=False, resolver=resolver)
    assert "10.0.0.1" not in caught.value.message
