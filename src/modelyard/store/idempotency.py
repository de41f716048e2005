"""Idempotent creating writes: a receipt per key, committed with the effect, replayed on retry.

A request sent with an idempotency key first claims a receipt row keyed by (workspace, caller,
operation, key); the write itself then runs in the same transaction (``_base.joined``), and the
answer is stored in the receipt before COMMIT. So either both the effect and its receipt are
there or neither is: a retry after a lost answer finds the receipt and gets the original
answer, a retry after a failure does the work again. Concurrent requests with one key wait on
the receipt's index entry (``sql/queries/idempotency.sql`` ``claim``) and replay. The request's
digest refuses a key reused for a different request. Failed requests leave no receipt.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from modelyard.auth import caller
from modelyard.errors import Conflict, IdempotencyKeyReused, InvalidInput
from modelyard.sql import query
from modelyard.store._base import Repository, joined

MAX_KEY_LENGTH = 128  # idempotency_receipt_key_ck
# Without authentication every request acts as this one principal.
LOCAL_PRINCIPAL = "local"
# A claim that lost to a receipt which is gone when read (gc removed it in between) is tried
# again; more than this many times in a row is not a race any more.
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class Answer:
    """A response to replay: status code and body (JSON)."""

    status: int
    body: bytes


@dataclass(frozen=True)
class Receipt:
    """What identifies one idempotent request: operation, key and the digest of the request."""

    operation: str
    key: str
    digest: bytes


def check_key(key: str) -> str:
    """An idempotency key: 1 to 128 characters."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            field="Idempotency-Key",
            limit=MAX_KEY_LENGTH,
        )
    return key


def principal() -> str:
    """Whose keys these are: the token of the request, else the signed-in user, else the
    one local principal (authentication off)."""
    who = caller.current()
    if who is None or not who.authenticated:
        return LOCAL_PRINCIPAL
    if who.token_id is not None:
        return f"token:{who.token_id}"
    return f"user:{who.user_id}"


class Receipts(Repository):
    """Runs writes once per key."""

    async def once(
        self, receipt: Receipt, effect: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        """The answer of ``effect`` run once for ``receipt``, and whether it was replayed.

        ``effect``'s repository calls join this transaction. A replay of a receipt made for
        another request digest raises :class:`IdempotencyKeyReused`.
        """
        params = {
            "workspace_id": self.workspace_id,
            "principal": principal(),
            "operation": receipt.operation,
            "idempotency_key": check_key(receipt.key),
            "digest": receipt.digest,
        }
        for _ in range(_CLAIM_ATTEMPTS):
            async with self.transaction() as conn:
                cur = await conn.execute(query("idempotency.claim"), params)
                if await cur.fetchone() is not None:
                    with joined(conn):
                        answer = await effect()
                    await conn.execute(
                        query("idempotency.record"),
                        {**params, "status_code": answer.status, "body": answer.body},
                    )
                    return answer, False
                cur = await conn.execute(query("idempotency.recorded"), params)
                row = await cur.fetchone()
            if row is None:
                continue
            digest, status, body = row
            if digest != receipt.digest:
                raise IdempotencyKeyReused(
                    "this idempotency key was used for a different request; use a new key",
                    idempotency_key=receipt.key,
                )
            if not isinstance(status, int) or not isinstance(body, bytes):
                raise Conflict("the receipt of this idempotency key holds no answer")
            return Answer(status, body), True
        raise Conflict("the receipt of this idempotency key kept disappearing; retry")
