"""Webhooks: queued in the same transaction as the event, delivered signed, retried."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org

from passgate.bootstrap import Container
from passgate.config import Settings
from passgate.domain import model as m
from passgate.domain.errors import ValidationError
from passgate.proto import webhook as wh
from passgate.services import resources
from passgate.services.actors import Actor, ActorKind
from passgate.services.directory.catalog import PLACE
from passgate.worker.dispatcher import Dispatcher


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:  # backend: both databases
    # The receiver listens on loopback: allowed here as an operator would allow it.
    return settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})


class Receiver:
    """A real HTTP server on loopback that records deliveries and answers scripted codes."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.script: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(({k: v for k, v in self.headers.items()}, body))
                code = receiver.script.pop(0) if receiver.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _pending(container: Container) -> list[m.OutboxMessage]:
    with container.uow_factory(None, write=False) as uow:
        return uow.outbox.pending("webhook")


def test_events_are_delivered_signed_with_hmac_sha256(
    client: TestClient, container: Container, receiver: Receiver, clock: FixedClock
) -> None:
    org = Org(client, "acme")
    created = org.post("/webhooks", {"url": receiver.url, "event_types": ["place.created"]})
    secret = created["secret"].encode()
    org.post("/places", {"name": "HQ"})
    org.post("/members", {"email": "a@example.com", "display_name": "A"})  # filtered out

    assert len(_pending(container)) == 1
    Dispatcher(container).run_once()
    assert _pending(container) == []
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    assert headers[wh.EVENT_HEADER] == "place.created"
    payload = json.loads(body)
    assert payload["type"] == "place.created" and payload["org_id"] == org.id
    assert "idempotency_key" not in payload
    now = int(clock.current.timestamp())
    assert wh.verify(secret, headers[wh.SIGNATURE_HEADER], body, now=now)
    assert not wh.verify(b"wrong secret", headers[wh.SIGNATURE_HEADER], body, now=now)
    assert not wh.verify(secret, headers[wh.SIGNATURE_HEADER], body + b" ", now=now)


def test_failed_deliveries_are_retried_with_backoff_then_succeed(
    client: TestClient, container: Container, receiver: Receiver, clock: FixedClock
) -> None:
    org = Org(client, "acme")
    org.post("/webhooks", {"url": receiver.url, "event_types": ["place.created"]})
    receiver.script = [503, 500]
    org.post("/places", {"name": "HQ"})
    worker = Dispatcher(container)
    worker.run_once()
    [message] = _pending(container)
    assert message.attempts == 1 and message.last_error == "http 503"
    assert worker.run_once() == 0  # not due yet: backoff
    clock.advance(seconds=10)
    worker.run_once()
    clock.advance(seconds=10)
    worker.run_once()
    assert _pending(container) == []
    assert len(receiver.received) == 3
    assert len({h[wh.DELIVERY_HEADER] for h, _ in receiver.received}) == 1


def test_a_permanent_refusal_stops_retrying(
    client: TestClient, container: Container, receiver: Receiver
) -> None:
    org = Org(client, "acme")
    org.post("/webhooks", {"url": receiver.url, "event_types": ["place.created"]})
    receiver.script = [410]
    org.post("/places", {"name": "HQ"})
    Dispatcher(container).run_once()
    assert _pending(container) == []
    with container.uow_factory(None, write=False) as uow:
        conn = uow._conn  # type: ignore[attr-defined]
        import sqlalchemy as sa

        from passgate.adapters.db.tables import outbox

        row = conn.execute(sa.select(outbox)).mappings().one()
    assert row["failed_at"] is not None and row["last_error"] == "permanent: http 410"


def test_an_unreachable_receiver_is_retried_not_lost(
    client: TestClient, container: Container, clock: FixedClock
) -> None:
    org = Org(client, "acme")
    org.post(
        "/webhooks",
        {"url": "http://127.0.0.1:9/nothing-listens-here", "event_types": ["place.created"]},
    )
    org.post("/places", {"name": "HQ"})
    Dispatcher(container).run_once()
    [message] = _pending(container)
    assert message.attempts == 1 and message.last_error is not None
    assert message.last_error.startswith("transport")


def test_a_rolled_back_change_queues_no_webhook(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    org.post("/webhooks", {"url": "https://hooks.example.com/x"})
    actor = Actor(kind=ActorKind.API_KEY, id="key", name="t", org_id=org.id, role="admin")
    before = len(_pending(container))
    with pytest.raises(ValidationError), container.uow_factory(org.id) as uow:
        resources.create(
            uow,
            actor,
            PLACE,
            {"name": "X", "timezone": "UTC", "address": None},
            container.clock.now(),
        )
        raise ValidationError("simulated failure after the write", field="name")
    assert len(_pending(container)) == before
    assert client.get("/api/v1/places", headers=org.headers).headers["X-Total-Count"] == "0"


def test_webhook_urls_are_validated(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.post("/api/v1/webhooks", json={"url": "ftp://example.com/x"}, headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "url"
    created = org.post("/webhooks", {"url": "https://example.com/hook"})
    r = client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"url": "nope nope"}, headers=org.headers
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "url"
    assert (
        "secret" not in client.get(f"/api/v1/webhooks/{created['id']}", headers=org.headers).json()
    )
