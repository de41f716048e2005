"""API tokens: ``myd_<id>_<secret>``, shown once, stored as the secret's sha256.

The id (48 random bits, hex) names the token in ``tokens list`` and ``tokens revoke`` and finds
its row; the secret (256 random bits, hex) is what proves possession. Only ``sha256(secret)`` is
stored: a secret this random cannot be brute-forced from its hash, so a slow KDF would add
latency to every request and no protection. Comparison is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from modelyard.errors import Unauthenticated

PREFIX = "myd"
_TOKEN = re.compile(r"^myd_([0-9a-f]{12})_([0-9a-f]{64})$")
# Compared against when no token has the presented id, so a miss costs what a hit costs.
_NO_DIGEST = hashlib.sha256(b"no such token").digest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: ``text`` is shown to its owner once and never stored."""

    token_id: str
    secret_sha256: bytes
    text: str

    def __repr__(self) -> str:  # never let the secret reach a log through a repr
        return f"NewToken(token_id={self.token_id!r})"


def new_token() -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_hex(32)
    return NewToken(token_id, digest(secret), f"{PREFIX}_{token_id}_{secret}")


def parse(text: str) -> tuple[str, str]:
    """``(token_id, secret)`` of a presented token; anything malformed is Unauthenticated."""
    match = _TOKEN.match(text.strip())
    if match is None:
        raise Unauthenticated("invalid API token")
    return match.group(1), match.group(2)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


def matches(secret: str, stored: bytes | None) -> bool:
    """Whether ``secret`` hashes to ``stored`` (None: no such token), in constant time."""
    return hmac.compare_digest(digest(secret), stored if stored is not None else _NO_DIGEST) and (
        stored is not None
    )
