"""The outbox worker: delivers what committed transactions queued.

Messages are leased (not deleted) while being delivered; a worker that dies
mid-delivery leaves the lease to expire and another worker retries, so every
message is delivered at least once. Receivers de-duplicate by the
Passgate-Delivery header.

Two lanes: APNs pushes (with the hourly retention job) and webhooks run in threads of
their own, so a receiver that hangs until its timeout never delays a push.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from passgate.services import retention
from passgate.services.container import Container
from passgate.services.delivery.webhooks import DeliveryPolicy
from passgate.worker.apns import ApnsDelivery

log = logging.getLogger("passgate.worker")
RETENTION_EVERY_S = 3600.0


class Dispatcher:
    def __init__(self, container: Container, *, poll_interval_s: float = 0.5) -> None:
        self._c = container
        self._poll = poll_interval_s
        self._stop = threading.Event()
        self._poster = container.webhook_poster()
        self._policy = DeliveryPolicy(
            max_attempts=container.settings.webhook_max_attempts,
            base_delay_s=container.settings.webhook_retry_base_s,
        )
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:60]
        self._apns = ApnsDelivery(container, self.worker_id)  # Apple Pass area: "apns" rows
        self._pruned_at: float | None = None

    def prune(self) -> dict[str, int]:
        """The retention job (services.retention): run now, whatever the hour."""
        self._pruned_at = time.monotonic()
        keep = timedelta(days=self._c.settings.retention_days)
        removed = retention.prune(self._c.retention_store, keep, self._c.clock.now())
        log.info("retention pass", extra={"removed": removed})
        return removed

    def run_pushes_once(self) -> int:
        """APNs pushes (and, about hourly, the retention job): the lane nothing waits behind."""
        if self._pruned_at is None or time.monotonic() - self._pruned_at >= RETENTION_EVERY_S:
            self.prune()
        return self._apns.run_once()

    def run_webhooks_once(self) -> int:
        return self._c.webhooks.deliver_due(self._poster, self._policy, worker_id=self.worker_id)

    def run_once(self) -> int:
        """One pass of both lanes, one after the other (tests and one-shot use)."""
        return self.run_pushes_once() + self.run_webhooks_once()

    def _lane(self, name: str, run: Callable[[], int]) -> None:
        while not self._stop.is_set():
            try:
                handled = run()
            except Exception:
                log.exception("outbox pass failed; retrying after the poll interval")
                handled = 0
            if handled == 0:
                self._stop.wait(self._poll)
        log.info("worker lane stopped", extra={"worker_id": self.worker_id, "lane": name})

    def run_forever(self) -> None:
        """Pushes here, webhooks in a thread of their own: a slow receiver delays no push."""
        log.info("worker started", extra={"worker_id": self.worker_id})
        webhooks = threading.Thread(
            target=self._lane,
            args=("webhooks", self.run_webhooks_once),
            name="passgate-webhooks",
            daemon=True,
        )
        webhooks.start()
        try:
            self._lane("pushes", self.run_pushes_once)
        finally:
            self._stop.set()
            webhooks.join()
            self._poster.close()
            self._apns.close()
        log.info("worker stopped", extra={"worker_id": self.worker_id})

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="passgate-worker", daemon=True)
        thread.start()
        return thread
