"""Webhook secrets: encrypted at rest with a key kept outside the database, and the signatures.

The key is ``--webhook-secret-key`` / ``MODELYARD_WEBHOOK_SECRET_KEY`` (a Fernet key), or else the
file ``webhook-secret.key`` in the data directory, created (mode 0600) on first use. There is no
key in the code. A database dump therefore holds no usable secret; servers sharing one database
must share the key.

The signature is MLflow's: ``v1,<base64 HMAC-SHA256 of "{delivery_id}.{timestamp}.{payload}">``.
During a rotation's overlap window the header carries one ``v1,`` entry per live secret,
separated by spaces (the Standard Webhooks convention), newest first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from modelyard.errors import InvalidInput, ModelyardError

KEY_FILE = "webhook-secret.key"
MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 256


class SecretKeyError(ModelyardError):
    """The webhook secret key is malformed, or does not decrypt a stored secret."""

    code = "WEBHOOK_SECRET_KEY_ERROR"
    http_status = 500


def load_key(key: str | None, data_dir: Path) -> Fernet:
    """The cipher of ``key``, or of the data directory's key file (made when missing)."""
    if key:
        return _fernet(key.encode("ascii", "replace"), "MODELYARD_WEBHOOK_SECRET_KEY")
    path = data_dir / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
    return _fernet(path.read_bytes().strip(), str(path))


def _fernet(raw: bytes, source: str) -> Fernet:
    try:
        return Fernet(raw)
    except ValueError:
        raise SecretKeyError(
            f"webhook secret key from {source} is not a Fernet key (32 url-safe base64 bytes)"
        ) from None


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def check_secret(secret: str) -> str:
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidInput(
            f"webhook secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters",
            field="secret",
        )
    return secret


def encrypt(cipher: Fernet, secret: str) -> bytes:
    return cipher.encrypt(secret.encode("utf-8"))


def decrypt(cipher: Fernet, token: bytes) -> str:
    try:
        return cipher.decrypt(bytes(token)).decode("utf-8")
    except InvalidToken:
        raise SecretKeyError(
            "a webhook secret cannot be decrypted with this server's key "
            "(MODELYARD_WEBHOOK_SECRET_KEY or the data directory's webhook-secret.key)"
        ) from None


def signature(secret: str, delivery_id: str, timestamp: str, payload: str) -> str:
    """One ``v1,<base64>`` entry, computed exactly as MLflow's sender does."""
    content = f"{delivery_id}.{timestamp}.{payload}".encode()
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(live: list[str], delivery_id: str, timestamp: str, payload: str) -> str:
    """The X-MLflow-Signature value: one entry per live secret, newest first."""
    return " ".join(signature(s, delivery_id, timestamp, payload) for s in live)
