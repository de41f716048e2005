"""What the server itself writes to the audit log: the requests its guard refused.

Changes are audited by triggers in the transaction that makes them (schema.sql); a refusal has no
transaction of its own, so it gets one here, scoped like any other (the refused caller as far as
it was known, the request's id and address).
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.auth import caller
from modelyard.sql import query
from modelyard.store._base import Repository

# The chain of what belongs to no workspace: refusals before a workspace was known.
SERVER_CHAIN = 0


@dataclass(frozen=True)
class Denial:
    """One refused request."""

    method: str
    path: str
    status: int
    code: str
    reason: str
    workspace_id: int = SERVER_CHAIN
    user: str | None = None
    token_id: str | None = None
    request_id: str | None = None
    client_addr: str | None = None


class AuditLog(Repository):
    """Writes refusals and makes the log's partitions ahead of time."""

    async def ensure_partitions(self) -> None:
        async with self.transaction() as conn:
            await conn.execute(query("audit.ensure_partitions"))

    async def record_denial(self, denial: Denial) -> None:
        who = caller.Caller(
            workspace_id=denial.workspace_id,
            workspace="",
            user=denial.user,
            token_id=denial.token_id,
            request_id=denial.request_id,
            client_addr=denial.client_addr,
        )
        entered = caller.enter(who)
        try:
            async with self.transaction() as conn:
                await conn.execute(
                    query("audit.record_denial"),
                    {
                        "workspace_id": denial.workspace_id,
                        "method": denial.method,
                        "path": denial.path,
                        "status": denial.status,
                        "code": denial.code,
                        "reason": denial.reason,
                    },
                )
        finally:
            caller.leave(entered)
