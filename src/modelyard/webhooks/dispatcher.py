"""The dispatcher: claims due deliveries, POSTs them, records what happened, retries, dead-letters.

Any number of dispatchers (server workers, ``modelyard worker`` processes) may run on one
database. Each claims the head of each webhook's queue with ``FOR UPDATE SKIP LOCKED`` and leases
it for longer than one attempt can take (the timeout bounds connect to last byte), so no attempt
is made twice while its dispatcher lives; if it dies, the lease runs out and another dispatcher
retries under the same delivery id. Only one delivery per webhook is in flight, in event order;
a slow or dead receiver holds one slot of ``concurrency`` for at most the timeout, and delays
only its own webhook's queue. ``LISTEN modelyard_webhooks`` wakes the loop when an event commits;
without it (a pooler that cannot LISTEN) it polls every ``poll_interval`` seconds.

The dispatcher connects as the server's runtime role, which row-level security confines to the
workspace of each transaction's scope; so it visits the workspaces one by one (their list comes
from the ``workspace`` table, which every scope can read), claiming and recording inside each
one's scope (``caller.background``). No function bypasses row-level security for it. Each step
starts at the next workspace in turn, so a busy one cannot keep the others' deliveries waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from typing import Any

import psycopg

from modelyard.auth import caller
from modelyard.db.conninfo import for_pool
from modelyard.errors import ModelyardError
from modelyard.settings import Settings
from modelyard.sql import query
from modelyard.store._base import Pool, Repository
from modelyard.webhooks import payload, signing, urls
from modelyard.webhooks.sender import Outcome, Sender
from modelyard.webhooks.service import WebhookService

log = logging.getLogger(__name__)
# Added to the timeout to make the lease: covers the database round trips around an attempt.
LEASE_MARGIN_SECONDS = 5.0


def backoff(attempt: int, base: float, cap: float) -> float:
    """Seconds before retry ``attempt + 1``: exponential, capped, with equal jitter."""
    delay = min(cap, base * 2.0 ** min(attempt - 1, 40))
    return delay / 2 + random.uniform(0, delay / 2)


class Dispatcher(Repository):
    """Delivers the pending deliveries of one database until stopped."""

    def __init__(
        self, pool: Pool, service: WebhookService, conninfo: str, settings: Settings
    ) -> None:
        super().__init__(pool)
        self._service = service
        # The listener's own session runs LISTEN only, which names no table: no search path, so
        # it connects through a pooler that refuses startup options too.
        self._conninfo = for_pool(conninfo)
        self._settings = settings
        self._wake = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._turn = 0  # where the next claim starts in the list of workspaces

    @property
    def lease_seconds(self) -> float:
        return self._settings.webhook_timeout + LEASE_MARGIN_SECONDS

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; attempts in flight get the timeout to finish."""
        sender = Sender(timeout=self._settings.webhook_timeout)
        listener = asyncio.create_task(self._listen(stop))
        try:
            while not stop.is_set():
                delay = await self._step(sender)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        stopping = asyncio.create_task(stop.wait())
                        woken = asyncio.create_task(self._wake.wait())
                        try:
                            await asyncio.wait(
                                {stopping, woken}, return_when=asyncio.FIRST_COMPLETED
                            )
                        finally:
                            stopping.cancel()
                            woken.cancel()
                self._wake.clear()
        finally:
            listener.cancel()
            if self._in_flight:
                _, late = await asyncio.wait(
                    self._in_flight, timeout=self._settings.webhook_timeout + 1
                )
                for task in late:
                    task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await sender.close()

    async def _step(self, sender: Sender) -> float:
        """Claim what is due and start it; returns how long to wait before looking again."""
        poll = self._settings.webhook_poll_interval
        room = self._settings.webhook_concurrency - len(self._in_flight)
        try:
            claimed = await self._claim(room) if room > 0 else []
        except ModelyardError as exc:
            log.warning(
                "webhook dispatcher cannot reach the database", extra={"error": exc.message}
            )
            return poll
        # Started before anything else can fail: a claimed delivery not attempted now would
        # wait out its lease.
        for job in claimed:
            task = asyncio.create_task(self._deliver(job, sender))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)
        if room > 0 and len(claimed) == room:
            return 0.0  # there may be more due right now
        try:
            due = await self._next_due()
        except ModelyardError as exc:
            log.warning(
                "webhook dispatcher cannot reach the database", extra={"error": exc.message}
            )
            return poll
        return poll if due is None else min(poll, max(due, 0.005))

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._wake.set()

    async def _workspaces(self) -> list[tuple[int, str]]:
        async with self.read() as conn:
            cur = await conn.execute(query("webhooks.workspaces"))
            rows = await cur.fetchall()
        return [(int(str(ws)), str(name)) for ws, name in rows]

    async def _claim(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` due deliveries, workspace by workspace from this step's turn on."""
        workspaces = await self._workspaces()
        if not workspaces:
            return []
        start = self._turn % len(workspaces)
        self._turn = start + 1
        claimed: list[dict[str, Any]] = []
        for workspace_id, name in workspaces[start:] + workspaces[:start]:
            if len(claimed) >= limit:
                break
            with caller.background(workspace_id, name):
                claimed += await self._claim_in_scope(limit - len(claimed))
        return claimed

    async def _claim_in_scope(self, limit: int) -> list[dict[str, Any]]:
        # One statement (atomic by itself), so no BEGIN/COMMIT round trips: see webhooks.sql.
        async with self.read() as conn:
            cur = await conn.execute(
                query("webhooks.claim"), {"limit": limit, "lease": self.lease_seconds}
            )
            rows = await cur.fetchall()
            # After the fetch: in a pipeline (store/_base.py) the description comes with the rows.
            names = [c.name for c in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in rows]

    async def _next_due(self) -> float | None:
        """Seconds until the first delivery of any workspace is due; None when none is pending."""
        soonest: float | None = None
        for workspace_id, name in await self._workspaces():
            with caller.background(workspace_id, name):
                async with self.read() as conn:
                    cur = await conn.execute(query("webhooks.next_due"))
                    row = await cur.fetchone()
            if row is not None and row[0] is not None:
                due = float(row[0])  # type: ignore[arg-type]
                soonest = due if soonest is None else min(soonest, due)
        return soonest

    async def _deliver(self, job: dict[str, Any], sender: Sender) -> None:
        try:
            await self._deliver_one(job, sender)
        except Exception:
            # Never lose the loop to one delivery; its lease runs out and it is retried.
            log.exception("webhook delivery failed", extra={"delivery_id": str(job["delivery_id"])})

    async def _deliver_one(self, job: dict[str, Any], sender: Sender) -> None:
        started = dt.datetime.now(dt.UTC)
        outcome = await self._attempt(job, sender)
        attempt = job["attempts"]
        delay = backoff(
            attempt, self._settings.webhook_backoff_base, self._settings.webhook_backoff_max
        )
        args = {
            "delivery_id": job["delivery_id"],
            "attempt": attempt,
            "ok": outcome.ok,
            "delay": delay,
            "horizon": self._settings.webhook_retry_horizon,
            "code": outcome.status,
            "error": outcome.error,
            "started_at": started,
            "latency_ms": outcome.latency_ms,
            "body": outcome.body,
        }
        try:
            # In the delivery's own workspace: its task was started outside any scope.
            with caller.background(job["workspace_id"], job["workspace_name"]):
                async with self.read() as conn:  # one statement, as the claim
                    cur = await conn.execute(query("webhooks.record"), args)
                    row = await cur.fetchone()
        except ModelyardError as exc:
            # The lease runs out and another attempt follows, under the same delivery id.
            log.warning("webhook attempt not recorded", extra={"error": exc.message})
            return
        if row is not None and row[0] == "dead":
            log.warning(
                "webhook delivery dead-lettered",
                extra={"delivery_id": str(job["delivery_id"]), "attempts": attempt},
            )

    async def _attempt(self, job: dict[str, Any], sender: Sender) -> Outcome:
        try:
            # Checked again now: DNS may answer differently than when the webhook was saved.
            target = await urls.check(
                job["url"],
                allow_private=self._settings.webhook_allow_private,
                resolver=self._service.resolver,
            )
            live = [
                signing.decrypt(self._service.cipher, bytes(s))
                for s in (job["secret"], job["previous_secret"])
                if s is not None
            ]
        except ModelyardError as exc:
            return Outcome(None, 0.0, exc.message)
        text = payload.body(
            job["entity"], job["action"], job["payload"], job["occurred_at"], job["workspace_name"]
        )
        return await sender.post(
            target, text.encode(), payload.headers(str(job["delivery_id"]), text, live)
        )

    async def _listen(self, stop: asyncio.Event) -> None:
        """Set the wake flag on every notification; reconnect (polling meanwhile) on failure."""
        while not stop.is_set():
            try:
                conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
                async with conn:
                    await conn.execute(query("webhooks.listen"))
                    self._wake.set()  # catch up on whatever committed while not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except psycopg.Error as exc:
                log.info("webhook listener reconnecting", extra={"error": str(exc)[:200]})
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._settings.webhook_poll_interval):
                        await stop.wait()
