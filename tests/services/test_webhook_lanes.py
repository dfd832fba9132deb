"""Per-endpoint delivery: a dead receiver costs one attempt per backoff and delays no one else."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org
from tests.services.test_webhooks import Receiver

from passgate.bootstrap import Container
from passgate.config import Settings
from passgate.worker.dispatcher import Dispatcher


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:  # backend: both databases
    return settings.model_copy(
        update={"webhook_allowed_hosts": ["127.0.0.1"], "webhook_timeout_s": 0.3}
    )


class Silent:
    """Accepts connections and never answers: a receiver that hangs until the timeout."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.accepted: list[socket.socket] = []
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[Silent]:
    s = Silent()
    yield s
    s.close()


def test_a_hanging_endpoint_is_tried_once_and_others_are_delivered(
    client: TestClient, container: Container, silent: Silent, clock: FixedClock
) -> None:
    receiver = Receiver()
    try:
        a, b = Org(client, "alpha"), Org(client, "beta")
        a.post("/webhooks", {"url": silent.url, "event_types": ["place.created"]})
        b.post("/webhooks", {"url": receiver.url, "event_types": ["place.created"]})
        for name in ("P1", "P2", "P3"):
            a.post("/places", {"name": name})
        b.post("/places", {"name": "Q"})

        worker = Dispatcher(container)
        assert worker.run_once() == 4
        assert len(receiver.received) == 1  # beta's delivery did not wait for alpha's
        assert len(silent.accepted) == 1  # alpha's lane stopped at its first timeout
        with container.uow_factory(None, write=False) as uow:
            waiting = sorted(uow.outbox.pending("webhook"), key=lambda x: x.id or 0)
        assert [x.attempts for x in waiting] == [1, 0, 0]  # the others were not tried
        retry_at = {x.next_attempt_at for x in waiting}
        assert len(retry_at) == 1 and retry_at.pop() > clock.current  # one shared backoff
        assert worker.run_once() == 0  # nothing due before the backoff ends
        assert len(silent.accepted) == 1
    finally:
        receiver.close()
