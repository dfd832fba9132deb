"""The "apns" outbox lane as commands: claim a batch of pushes, settle each outcome.

The push worker owns only the APNs connection and its event loop; what a push's outcome
means for the stored rows lives here, one transaction per step: delivered (or the token
is dead) -> done; retryable (429, 5xx, transport) -> retried later with exponential
backoff and jitter until ``max_attempts``; anything else -> failed. A dead token drops
its PassKit registration unless the device registered again after APNs saw it die.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from passgate.domain.model import OutboxMessage
from passgate.domain.pass_records import WalletRegistration
from passgate.proto.apns import PushOutcome
from passgate.services.credentials.wallet import APNS_TOPIC
from passgate.services.ports import Clock, UnitOfWorkFactory

log = logging.getLogger("passgate.worker.apns")
LEASE_S = 60


@dataclass(frozen=True)
class Claimed:
    """A batch taken under lease, and the instant it was taken (its outcomes' clock)."""

    at: datetime
    messages: list[OutboxMessage]


@dataclass(frozen=True)
class PushOutbox:
    uow_factory: UnitOfWorkFactory
    clock: Clock
    max_attempts: int
    retry_base_s: float

    def claim(self, worker_id: str, limit: int) -> Claimed:
        now = self.clock.now()
        with self.uow_factory(None) as uow:
            batch = uow.outbox.claim(
                APNS_TOPIC, worker_id=worker_id, now=now, lease_s=LEASE_S, limit=limit
            )
        return Claimed(now, batch)

    def settle(self, message: OutboxMessage, outcome: PushOutcome, now: datetime) -> None:
        assert message.id is not None
        if outcome.unregister:
            self._drop(message.org_id, str(message.target_id), outcome.timestamp_ms)
        with self.uow_factory(None) as uow:
            if outcome.delivered or outcome.unregister:
                uow.outbox.mark_delivered(message.id, now)
            elif outcome.retryable and message.attempts + 1 < self.max_attempts:
                delay = self.retry_base_s * 2 ** min(message.attempts, 16)
                jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreading retries only
                uow.outbox.mark_retry(
                    message.id,
                    error=f"apns {outcome.status} {outcome.reason}",
                    next_attempt_at=now + timedelta(seconds=delay * jitter),
                )
            else:
                uow.outbox.mark_failed(
                    message.id, error=f"apns {outcome.status} {outcome.reason}", now=now
                )

    def _drop(self, org_id: str, registration_id: str, dead_since_ms: int | None) -> None:
        with self.uow_factory(org_id) as uow:
            repo = uow.repo(WalletRegistration)
            reg = repo.find(registration_id)
            if reg is None:
                return
            dead_since = (
                datetime.fromtimestamp(dead_since_ms / 1000, UTC) if dead_since_ms else None
            )
            # A device that registered again after APNs saw the token die keeps its row.
            if dead_since is None or reg.updated_at <= dead_since:
                repo.delete(reg.id)
                log.info("dropped a dead PassKit registration", extra={"registration": reg.id})
