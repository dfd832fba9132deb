"""SSRF: webhooks reach public addresses only, unless the operator allows a host.

Refused when the URL is given (a literal internal address or a local name) and again at
every delivery, after resolving the name, so a name that points inward later is refused
too. Runs with the default settings: nothing allowed.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.services.delivery.test_webhooks import Receiver

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.domain.destinations import check_addresses, check_host
from passgate.domain.errors import ValidationError
from passgate.worker.dispatcher import Dispatcher

INTERNAL = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.9",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "0.0.0.0",
    "::1",
    "fd00:ec2::254",
    "fe80::1",
    "::ffff:127.0.0.1",
]


@pytest.mark.parametrize("address", INTERNAL)
def test_internal_addresses_are_refused_unless_allowed(address: str) -> None:
    with pytest.raises(ValidationError) as refused:
        check_addresses("hooks.example.com", [address], allowed=())
    assert (
        refused.value.field == "url" and "PASSGATE_WEBHOOK_ALLOWED_HOSTS" in refused.value.message
    )
    check_addresses("hooks.example.com", [address], allowed=["hooks.example.com"])
    network = "::/0" if ":" in address and "ffff" not in address else "0.0.0.0/0"
    check_addresses("hooks.example.com", [address], allowed=[network])


def test_public_addresses_pass_and_one_internal_answer_spoils_a_name() -> None:
    check_addresses("hooks.example.com", ["93.184.216.34", "2606:2800:220:1::1"], allowed=())
    with pytest.raises(ValidationError):
        check_addresses("hooks.example.com", ["93.184.216.34", "10.0.0.1"], allowed=())
    for host in ("localhost", "api.localhost", "metadata.google.internal", "printer.local"):
        with pytest.raises(ValidationError):
            check_host(host, allowed=())


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/hook",
        "http://[::1]/hook",
        "https://10.0.0.8/hook",
    ],
)
def test_the_api_refuses_an_internal_webhook_url(client: TestClient, url: str) -> None:
    org = Org(client, "acme")
    r = client.post("/api/v1/webhooks", json={"url": url}, headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "url", r.text
    hook = org.post("/webhooks", {"url": "https://hooks.example.com/x"})
    r = client.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": url}, headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "url", r.text
    listed = client.get("/api/v1/webhooks", headers=org.headers).json()
    assert [h["url"] for h in listed] == ["https://hooks.example.com/x"]


def test_a_delivery_to_an_internal_address_is_refused_for_good(
    client: TestClient, container: Container
) -> None:
    receiver = Receiver()  # a loopback service the server could otherwise reach
    try:
        org = Org(client, "acme")
        hook = org.post("/webhooks", {"url": "https://hooks.example.com/x"})
        # As if the URL had been accepted before the rule, or its name now points inward.
        with container.uow_factory(org.id) as uow:
            row = uow.repo(m.Webhook).get(hook["id"])
            row.url = receiver.url
            uow.repo(m.Webhook).update(row)
        org.post("/places", {"name": "HQ"})
        Dispatcher(container).run_once()
        assert receiver.received == []
        with container.uow_factory(None, write=False) as uow:
            assert uow.outbox.pending("webhook") == []  # failed, not retried
    finally:
        receiver.close()
