"""Whether ``modelyard server`` turns authentication on, and what it says at start."""

from __future__ import annotations

import pytest

from modelyard.cli.serve import auth_enabled, auth_notice


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_is_off_unless_asked(host: str) -> None:
    assert auth_enabled(host, None) is False
    assert auth_enabled(host, True) is True
    assert "authentication is off" in auth_notice(host, False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "ml.example.com"])
def test_any_other_address_is_on_unless_disabled_with_a_warning(host: str) -> None:
    assert auth_enabled(host, None) is True
    assert auth_enabled(host, False) is False
    assert auth_notice(host, False).startswith("WARNING: authentication is OFF")
    assert "authentication is on" in auth_notice(host, True)
