"""Helpers of the authentication tests (fixtures are in conftest.py)."""

from __future__ import annotations


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
