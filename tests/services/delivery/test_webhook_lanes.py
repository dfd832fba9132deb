"""Per-endpoint delivery: a dead receiver costs one attempt per backoff and delays no one else."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org
from tests.reader.support import wait_until
from tests.services.delivery.test_webhooks import Receiver

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


class BlockedPoster:
    """A webhook receiver that does not answer until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.entered.set()
        self.release.wait(30)
        return 200

    def close(self) -> None:
        self.release.set()


def test_pushes_do_not_wait_behind_a_hanging_webhook(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    poster = BlockedPoster()
    monkeypatch.setattr(container, "webhook_poster", lambda: poster)
    org = Org(client, "acme")
    org.post("/webhooks", {"url": "https://hooks.example.com/x", "event_types": ["place.created"]})
    org.post("/places", {"name": "HQ"})
    worker = Dispatcher(container, poll_interval_s=0.01)
    push_passes: list[int] = []
    run_pushes = worker.run_pushes_once

    def counted() -> int:
        push_passes.append(1)
        return run_pushes()

    monkeypatch.setattr(worker, "run_pushes_once", counted)
    thread = worker.start_thread()
    try:
        wait_until(poster.entered.is_set, "the webhook delivery started")
        seen = len(push_passes)
        # The push lane keeps passing while the webhook lane is stuck in its delivery.
        wait_until(lambda: len(push_passes) >= seen + 3, "push passes during the hang")
        assert not poster.release.is_set()
    finally:
        poster.release.set()
        worker.stop()
        thread.join(10)
    assert not thread.is_alive()
