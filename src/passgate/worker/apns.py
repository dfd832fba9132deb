"""Delivers the "apns" outbox rows: one push per PassKit registration of a changed pass.

Runs a private event loop on its own thread (the APNs client is async) and one long-lived
HTTP/2 client, so it works the same whether its caller is a plain thread or already
inside an event loop (the in-process worker of `serve`, a test).
What an outcome does to the stored rows (done, retried with backoff, failed, a dead
token's registration dropped) is ``services.credentials.pass_pushes``. Pushes only say
"ask again": security never rests on them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from passgate.services.container import Container
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
        outbox = self._c.push_outbox
        claimed = outbox.claim(self._worker_id, self._batch)
        batch = claimed.messages
        if not batch:
            return 0
        client = self._client = self._client or self._c.apns_client()
        assert client is not None
        pairs = [(str(m.payload.get("push_token", "")), str(m.payload["topic"])) for m in batch]
        outcomes = self._run(client.send_many(pairs))
        for message, outcome in zip(batch, outcomes, strict=True):
            outbox.settle(message, outcome, claimed.at)
        return len(batch)

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
