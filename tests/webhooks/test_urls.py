"""The SSRF corpus against the URL rules alone (no database, no network: a test resolver)."""

from __future__ import annotations

import pytest
from ssrf_corpus import CORPUS, resolver

from modelyard.errors import UnsafeWebhookUrl
from modelyard.webhooks import urls

pytestmark = pytest.mark.anyio


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
