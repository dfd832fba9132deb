"""Delivers the "apns" outbox rows: one push per PassKit registration of a changed pass.

Runs a private event loop on its own thread (the APNs client is async) and one long-lived
HTTP/2 client, so it works the same whether its caller is a plain thread or already
inside an event loop (the in-process worker of `serve`, a test).
Outcomes: delivered -> done; unregister (410, BadDeviceToken) -> the registration is
dropped unless the device registered again after APNs learnt the token was dead;
retryable (429, 5xx, transport) -> the row is retried later with backoff; anything
else -> failed. Pushes only say "ask again": security never rests on them.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from passgate.domain.pass_records import WalletRegistration
from passgate.services.container import Container
from passgate.services.credentials.wallet import APNS_TOPIC
from passgate.services.ports import PushClient

log = logging.getLogger("passgate.worker.apns")
T = TypeVar("T")


class ApnsDelivery:
    def __init__(self, container: Container, worker_id: str, batch: int = 200) -> None:
        self._c = container
        self._worker_id = worker_id
        self._batch = batch
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: PushClient | None = None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=loop.run_forever, name="passgate-apns", daemon=True
            )
            self._thread.start()
            self._loop = loop
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def run_once(self) -> int:
        if self._c.settings.apns_url is None:
            return 0  # not configured: rows wait in the outbox
        now = self._c.clock.now()
        with self._c.uow_factory(None) as uow:
            batch = uow.outbox.claim(
                APNS_TOPIC, worker_id=self._worker_id, now=now, lease_s=60, limit=self._batch
            )
        if not batch:
            return 0
        client = self._client = self._client or self._c.apns_client()
        assert client is not None
        pairs = [(str(m.payload.get("push_token", "")), str(m.payload["topic"])) for m in batch]
        outcomes = self._run(client.send_many(pairs))
        st = self._c.settings
        for message, outcome in zip(batch, outcomes, strict=True):
            assert message.id is not None
            if outcome.unregister:
                self._drop(message.org_id, str(message.target_id), outcome.timestamp_ms)
            with self._c.uow_factory(None) as uow:
                if outcome.delivered or outcome.unregister:
                    uow.outbox.mark_delivered(message.id, now)
                elif outcome.retryable and message.attempts + 1 < st.apns_max_attempts:
                    delay = st.apns_retry_base_s * 2 ** min(message.attempts, 16)
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
        return len(batch)

    def _drop(self, org_id: str, registration_id: str, dead_since_ms: int | None) -> None:
        with self._c.uow_factory(org_id) as uow:
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

    def close(self) -> None:
        if self._loop is not None:
            if self._client is not None:
                self._run(self._client.aclose())
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._loop.close()
        self._loop = None
        self._thread = None
        self._client = None
