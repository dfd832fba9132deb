"""R17-R20 through the admin API: list, detail, suspend/resume/delete, audit, APNs, readers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.conftest import OPERATOR_KEY, SECRET_KEY
from tests.passes.conftest import PASS_TYPE, TEAM
from tests.passes.helpers import (
    MemberApp,
    app_headers,
    iphone,
    reader_log_head,
    reader_log_since,
    watch,
)

from passgate.config import Settings
from passgate.proto.passkit import DevChain
from passgate.services.credentials.wallet import authentication_token
from passgate.sim.apns_receiver import ApnsReceiver, ReceiverThread
from passgate.worker.dispatcher import Dispatcher

PUSH = "ab" * 32
_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def receiver() -> Iterator[ReceiverThread]:
    with ReceiverThread(ApnsReceiver(provider_key=_KEY.public_key(), team_id=TEAM)) as r:
        yield r


@pytest.fixture
def settings(
    database_url: str, dev_chain: tuple[DevChain, Path], receiver: ReceiverThread, tmp_path: Path
) -> Settings:
    _, out = dev_chain
    key_file = tmp_path / "apns.key"
    key_file.write_bytes(
        _KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=OPERATOR_KEY,
        secret_key=SECRET_KEY,
        public_url="https://passgate.example.com",
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        pass_cert_path=str(out / "pass.pem"),
        pass_key_path=str(out / "pass.key"),
        pass_wwdr_path=str(out / "wwdr.pem"),
        apns_url=receiver.base_url,
        apns_team_id=TEAM,
        apns_key_id="KEYID12345",
        apns_token_key_path=str(key_file),
        apns_retry_base_s=0.01,
    )


def _register(client: TestClient, serial: str, device: str, push: str) -> None:
    cfg = client.app.state.container.wallet_config  # type: ignore[attr-defined]
    r = client.post(
        f"/passkit/v1/devices/{device}/registrations/{PASS_TYPE}/{serial}",
        json={"pushToken": push},
        headers={"Authorization": f"ApplePass {authentication_token(cfg, serial)}"},
    )
    assert r.status_code == 201


def _drain(client: TestClient) -> int:
    dispatcher = Dispatcher(client.app.state.container)  # type: ignore[attr-defined]
    try:
        return dispatcher.run_once()
    finally:
        dispatcher._apns.close()


def test_suspend_resume_delete_push_audit_and_reader_log(
    member: MemberApp, receiver: ReceiverThread
) -> None:
    client, admin = member.client, member.org.headers
    c = client.app.state.container  # type: ignore[attr-defined]
    body = member.add({"iphone": iphone(), "watch": watch()}).json()
    pass_id = body["pass_id"]
    keys = {("credential", d["key_id"]) for d in body["devices"]}
    _register(client, body["serials"]["iphone"], "phone-lib", PUSH)
    _register(client, body["serials"]["watch"], "watch-lib", "cd" * 32)
    receiver.subscribe(PUSH)
    for action, status in (("suspend", "suspended"), ("resume", "active")):
        head = reader_log_head(c, member.org.id)
        r = client.post(f"/api/v1/apple_passes/{pass_id}/{action}", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == status
        # Every reader hub learns of it from the change log, in the same transaction.
        assert ("pass", pass_id) in reader_log_since(c, member.org.id, head)
        assert _drain(client) == 2
        delivery = receiver.wait_for_push(PUSH)
        assert delivery.topic == PASS_TYPE and delivery.body == b"{}"
    assert client.post(f"/api/v1/apple_passes/{pass_id}/resume", headers=admin).status_code == 409
    head = reader_log_head(c, member.org.id)
    r = client.delete(f"/api/v1/apple_passes/{pass_id}", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert r.json()["devices"] == "none"
    # The pass and both device keys (revoked) are named for the readers.
    assert {("pass", pass_id), *keys} <= reader_log_since(c, member.org.id, head)
    assert _drain(client) == 2
    receiver.wait_for_push(PUSH)
    assert client.post(f"/api/v1/apple_passes/{pass_id}/suspend", headers=admin).status_code == 409
    events = client.get("/api/v1/events?type=apple_pass.suspended", headers=admin).json()
    assert len(events) == 1 and events[0]["actor_type"] == "api_key"
    detail = client.get(f"/api/v1/apple_passes/{pass_id}", headers=admin).json()
    assert {d["status"] for d in detail["device_list"]} == {"revoked"}
    assert {x["device_library_id"] for x in detail["registrations"]} == {"phone-lib", "watch-lib"}
    assert "apple_pass.deleted" in [e["type"] for e in detail["events"]]
    member_events = [e for e in detail["events"] if e["type"] == "apple_pass.created"]
    assert member_events and member_events[0]["session_id"].startswith("ses_")


def test_replaced_iphone_gets_a_push_and_dead_tokens_are_dropped(
    member: MemberApp, receiver: ReceiverThread
) -> None:
    client = member.client
    body = member.add({"iphone": iphone("old")}).json()
    _register(client, body["serials"]["iphone"], "old-lib", PUSH)
    receiver.subscribe(PUSH)
    new = member.add({"iphone": iphone("new")}).json()
    assert _drain(client) == 1  # only the replaced copy changed
    receiver.wait_for_push(PUSH)
    # The receiver stamps 410s with the real time; register before it, as a real device
    # whose token died afterwards would have.
    c = client.app.state.container  # type: ignore[attr-defined]
    c.clock.current = datetime.now(UTC) - timedelta(hours=1)
    token = "ef" * 32
    _register(client, new["serials"]["iphone"], "new-lib", token)
    receiver.mark_unregistered(token)
    client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    assert _drain(client) == 1
    detail = client.get(f"/api/v1/apple_passes/{body['pass_id']}", headers=member.org.headers)
    assert [x["device_library_id"] for x in detail.json()["registrations"]] == ["old-lib"]


def test_retryable_push_failures_are_retried_later(
    member: MemberApp, receiver: ReceiverThread
) -> None:
    client = member.client
    body = member.add({"iphone": iphone()}).json()
    _register(client, body["serials"]["iphone"], "lib", PUSH)
    receiver.fail_next(2)  # the client's own two attempts both fail
    client.post(f"/api/v1/apple_passes/{body['pass_id']}/suspend", headers=member.org.headers)
    assert _drain(client) == 1
    c = client.app.state.container  # type: ignore[attr-defined]
    with c.uow_factory(None, write=False) as uow:
        (row,) = uow.outbox.pending("apns")
    assert row.attempts == 1 and row.last_error and "503" in row.last_error
    c.clock.advance(seconds=5)
    receiver.subscribe(PUSH)
    assert _drain(client) == 1
    receiver.wait_for_push(PUSH)


def test_list_devices_column_filters_and_search(client: TestClient) -> None:
    from tests.passes.helpers import eligible_member

    ann = eligible_member(client)
    org = ann.org
    ann.add({"iphone": iphone(), "watch": watch()})
    bob_id = org.post("/members", {"email": "bob@example.com", "display_name": "Bob"})["id"]
    bob = app_headers(client, org.id, bob_id)
    client.post("/api/v1/me/apple_pass", json={"iphone": iphone("b")}, headers=bob)
    cy_id = org.post("/members", {"email": "cy@example.com", "display_name": "Cy"})["id"]
    cy = app_headers(client, org.id, cy_id)
    cy_pass = client.post(
        "/api/v1/me/apple_pass", json={"iphone": iphone("c"), "watch": watch("cw")}, headers=cy
    ).json()
    client.delete(f"/api/v1/apple_passes/{cy_pass['pass_id']}", headers=org.headers)
    rows = client.get("/api/v1/apple_passes", headers=org.headers)
    assert rows.headers["X-Total-Count"] == "3"
    by_name = {x["member_name"]: x for x in rows.json()}
    assert by_name["Ann Example"]["devices"] == "both"
    assert by_name["Bob"]["devices"] == "iphone"
    assert by_name["Cy"]["devices"] == "none"
    # The watch column: a pass whose iPhone was replaced keeps only a newer watch.
    r = client.get("/api/v1/apple_passes?device=both", headers=org.headers).json()
    assert [x["member_name"] for x in r] == ["Ann Example"]
    r = client.get("/api/v1/apple_passes?status=deleted", headers=org.headers).json()
    assert [x["member_name"] for x in r] == ["Cy"]
    r = client.get("/api/v1/apple_passes?q=BOB@", headers=org.headers).json()
    assert [x["member_name"] for x in r] == ["Bob"]
    r = client.get("/api/v1/apple_passes?device=tablet", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "device"
    r = client.get("/api/v1/apple_passes?limit=1&offset=1", headers=org.headers)
    assert len(r.json()) == 1 and r.headers["X-Total-Count"] == "3"
