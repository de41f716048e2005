"""Role passwords: generating them, checking one against a stored verifier, and connection URIs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from urllib.parse import quote

__all__ = ["connection_uri", "generate_password", "password_matches"]

# Letters and digits only: the password ends up in URIs and env files that others may not escape.
_ALPHABET = string.ascii_letters + string.digits
_PASSWORD_LENGTH = 32


def generate_password() -> str:
    """A random 32-character password (about 190 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(_PASSWORD_LENGTH))


def password_matches(stored: str | None, role: str, password: str) -> bool | None:
    """Whether ``password`` is the one ``stored`` (pg_authid.rolpassword) was made from.

    None when that cannot be told: PostgreSQL SASLprep-normalises non-ASCII passwords before
    hashing, which this does not reproduce, and unknown verifier formats are not guessed at.
    """
    if stored is None:
        return False
    if not password.isascii() or not password.isprintable():
        return None
    if stored.startswith("SCRAM-SHA-256$"):
        return _scram_matches(stored, password)
    if stored.startswith("md5") and len(stored) == 35:
        digest = hashlib.md5((password + role).encode(), usedforsecurity=False).hexdigest()
        return hmac.compare_digest(stored, "md5" + digest)
    return None


def _scram_matches(stored: str, password: str) -> bool | None:
    # RFC 5802/7677, as PostgreSQL stores it:
    # SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, keys and salt in base64
    try:
        _, params, keys = stored.split("$")
        iterations, salt = params.split(":")
        stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:
        return None
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    return hmac.compare_digest(
        hashlib.sha256(client_key).digest(), stored_key
    ) and hmac.compare_digest(hmac.digest(salted, b"Server Key", "sha256"), server_key)


def connection_uri(
    user: str,
    password: str | None,
    host: str | None,
    port: int | str | None,
    database: str,
    sslmode: str | None = None,
) -> str:
    """A libpq URI; user, password, host and database are percent-encoded."""
    credentials = quote(user, safe="")
    if password is not None:
        credentials += f":{quote(password, safe='')}"
    where = quote(host, safe="") if host else ""
    if host and ":" in host:  # an IPv6 address goes in brackets
        where = f"[{host}]"
    if port:
        where += f":{port}"
    uri = f"postgresql://{credentials}@{where}/{quote(database, safe='')}"
    return f"{uri}?sslmode={sslmode}" if sslmode else uri
