"""POST /api/v1/webhooks/{id}/test: the dashboard's test delivery through the REST API,
on both databases: signed like a real delivery, audited, roles and tenants enforced."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.livesrv import free_port

from passgate.config import Settings
from passgate.proto import webhook as wh


@pytest.fixture
def settings(settings: Settings, backend: str) -> Settings:  # backend: both databases
    return settings.model_copy(update={"webhook_allowed_hosts": ["127.0.0.1"]})


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append({"body": body, "headers": {k.lower(): v for k, v in self.headers.items()}})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", got
    server.shutdown()
    server.server_close()


def _hook(client: TestClient, org: Org, url: str) -> tuple[str, str]:
    r = client.post("/api/v1/webhooks", json={"url": url}, headers=org.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"]), str(r.json()["secret"])


def _tested(client: TestClient, org: Org) -> list[dict[str, Any]]:
    r = client.get("/api/v1/events", params={"type": "webhook.tested"}, headers=org.headers)
    events: list[dict[str, Any]] = r.json()
    return events


def test_a_test_delivery_is_signed_answered_and_audited(
    client: TestClient, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    org = Org(client, "acme")
    hook, secret = _hook(client, org, url)
    r = client.post(f"/api/v1/webhooks/{hook}/test", headers=org.headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"webhook_id": hook, "url": url, "delivered": True, "outcome": "http 204"}
    (delivery,) = got
    assert json.loads(delivery["body"])["type"] == "webhook.test"
    assert delivery["headers"][wh.EVENT_HEADER.lower()] == "webhook.test"
    now = int(client.app.state.container.clock.now().timestamp())  # type: ignore[attr-defined]
    assert wh.verify(secret.encode(), delivery["headers"][wh.SIGNATURE_HEADER.lower()],
                     delivery["body"], now=now)  # fmt: skip
    (event,) = _tested(client, org)
    assert (event["object_id"], event["actor_type"]) == (hook, "api_key")
    assert event["data"]["after"] == {"delivered": True, "outcome": "http 204"}


def test_an_endpoint_that_does_not_answer_is_reported_not_delivered(client: TestClient) -> None:
    org = Org(client, "acme")
    hook, _ = _hook(client, org, f"http://127.0.0.1:{free_port()}/nobody")
    r = client.post(f"/api/v1/webhooks/{hook}/test", headers=org.headers)
    assert r.status_code == 200, r.text
    assert r.json()["delivered"] is False and r.json()["outcome"].startswith("transport: ")
    assert _tested(client, org)[0]["data"]["after"]["delivered"] is False


def test_roles_tenants_and_unknown_webhooks(
    client: TestClient, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, got = receiver
    org, other = Org(client, "acme"), Org(client, "other")
    hook, _ = _hook(client, org, url)
    key = client.post(
        "/api/v1/api_keys", json={"name": "audit", "role": "read_only"}, headers=org.headers
    ).json()
    ro = {"Authorization": f"Bearer {key['token']}"}
    assert client.post(f"/api/v1/webhooks/{hook}/test", headers=ro).status_code == 403
    r = client.post(f"/api/v1/webhooks/{hook}/test", headers=other.headers)
    assert r.status_code == 404 and hook not in r.text
    assert client.post("/api/v1/webhooks/whk_nope/test", headers=org.headers).status_code == 404
    assert (
        client.post("/api/v1/webhooks/" + "w" * 41 + "/test", headers=org.headers).status_code
        == 422
    )
    assert client.post(f"/api/v1/webhooks/{hook}/test").status_code == 401
    assert got == [] and _tested(client, org) == []  # nothing sent, nothing recorded
