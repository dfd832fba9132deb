"""Deleting a person through the API, on both databases: their pass goes the way of a
pass delete (Wallet copy voided and pushed, readers told), their app credentials,
sessions and group memberships go, their record and past events stay readable."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.passes.conftest import PASS_TYPE
from tests.passes.helpers import (
    MemberApp,
    add_app_credential,
    iphone,
    reader_log_head,
    reader_log_since,
)

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.credentials.wallet import authentication_token
from passgate.services.events import record_event

PUSH = "cd" * 32


def _outbox(container: Container, topic: str) -> list[dict[str, Any]]:
    with container.uow_factory(None, write=False) as uow:
        return [dict(x.payload) for x in uow.outbox.pending(topic)]


def _tap(container: Container, org_id: str, member_id: str) -> str:
    now = container.clock.now()
    event_id = m.new_id("evt")
    with container.uow_factory(org_id) as uow:
        record_event(
            uow,
            m.Event(
                id=event_id, org_id=org_id, category=m.EventCategory.ACCESS,
                type="access.granted", idempotency_key=event_id, occurred_at=now,
                recorded_at=now, member_id=member_id, granted=True, reason="granted",
            ),
        )  # fmt: skip
    return event_id


def test_deleting_a_member_removes_every_way_in_and_keeps_their_history(
    member: MemberApp, container: Container
) -> None:
    client, org, mid = member.client, member.org, member.member_id
    h = org.headers
    added = member.add({"iphone": iphone()}).json()
    serial = added["serials"]["iphone"]
    auth = {"Authorization": f"ApplePass {authentication_token(container.wallet_config, serial)}"}
    r = client.post(
        f"/passkit/v1/devices/lib-9/registrations/{PASS_TYPE}/{serial}",
        json={"pushToken": PUSH},
        headers=auth,
    )
    assert r.status_code == 201, r.text
    credential = add_app_credential(client, org, mid)
    place = org.post("/places", {"name": "HQ"})["id"]
    door = org.post("/doors", {"place_id": place, "name": "Front"})["id"]
    group = org.post("/groups", {"name": "Staff"})["id"]
    right = org.post("/access_rights", {"member_id": mid, "group_id": group})["id"]
    tap = _tap(container, org.id, mid)
    assert client.get("/api/v1/me", headers=member.headers).status_code == 200
    apns_before, head = len(_outbox(container, "apns")), reader_log_head(container, org.id)

    r = client.delete(f"/api/v1/members/{mid}", headers=h)
    assert r.status_code == 204, r.text

    # The pass: deleted like an admin's pass delete, the Wallet copy voided and pushed.
    got = client.get(f"/api/v1/apple_passes/{added['pass_id']}", headers=h).json()
    assert got["status"] == "deleted"
    pushes = _outbox(container, "apns")[apns_before:]
    assert [p["push_token"] for p in pushes] == [PUSH]
    copy = client.get(f"/passkit/v1/passes/{PASS_TYPE}/{serial}", headers=auth)
    assert copy.status_code == 200
    assert json.loads(zipfile.ZipFile(BytesIO(copy.content)).read("pass.json"))["voided"] is True
    told = reader_log_since(container, org.id, head)
    assert {("pass", added["pass_id"]), ("member", mid)} <= told
    # The app credential, the sessions, the group membership.
    cred = client.get(f"/api/v1/app_credentials/{credential}", headers=h).json()
    assert cred["status"] == "deleted"
    assert client.get("/api/v1/me", headers=member.headers).status_code == 401
    assert client.get(f"/api/v1/access_rights/{right}", headers=h).status_code == 404
    # The record stays, with the name, so past events still say who it was.
    person = client.get(f"/api/v1/members/{mid}", headers=h).json()
    assert (person["status"], person["display_name"]) == ("deleted", "Ann Example")
    assert person["email"] != "ann@example.com" and person["external_id"] is None
    assert client.get(f"/api/v1/events/{tap}", headers=h).json()["member_id"] == mid
    (event,) = client.get("/api/v1/events?type=member.deleted", headers=h).json()
    assert (event["actor_type"], event["object_id"], event["member_id"]) == ("api_key", mid, mid)
    assert event["data"]["before"]["email"] == "ann@example.com"
    assert event["data"]["apple_passes_deleted"] == [added["pass_id"]]
    assert event["data"]["app_credentials_deleted"] == [credential]
    assert event["data"]["access_rights_removed"] == [right]
    assert event["data"]["sessions_revoked"] >= 2  # the pass's and the credential's app sessions
    assert door  # the door stays, of course

    # Nothing changes a deleted member any more; the address is free for someone new.
    assert client.delete(f"/api/v1/members/{mid}", headers=h).status_code == 409
    r = client.patch(f"/api/v1/members/{mid}", json={"status": "active"}, headers=h)
    assert r.status_code == 409, r.text
    assert client.get(f"/api/v1/members/{mid}", headers=h).json()["status"] == "deleted"
    r = client.post("/api/v1/access_rights", json={"member_id": mid, "group_id": group}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["field"] == "member_id"
    again = org.post("/members", {"email": "ann@example.com", "display_name": "Ann Again"})
    assert again["id"] != mid


def test_a_member_without_anything_is_deleted_too_and_others_are_untouched(
    client: TestClient,
) -> None:
    org = Org(client, "solo")
    a = org.post("/members", {"email": "a@example.com", "display_name": "A"})["id"]
    b = org.post("/members", {"email": "b@example.com", "display_name": "B"})["id"]
    assert client.delete(f"/api/v1/members/{a}", headers=org.headers).status_code == 204
    assert client.get(f"/api/v1/members/{b}", headers=org.headers).json()["status"] == "active"


def test_roles_tenants_and_bad_ids(client: TestClient) -> None:
    org, other = Org(client, "one"), Org(client, "two")
    mid = org.post("/members", {"email": "x@example.com", "display_name": "X"})["id"]
    key = client.post(
        "/api/v1/api_keys", json={"name": "audit", "role": "read_only"}, headers=org.headers
    ).json()
    ro = {"Authorization": f"Bearer {key['token']}"}
    assert client.delete(f"/api/v1/members/{mid}", headers=ro).status_code == 403
    r = client.delete(f"/api/v1/members/{mid}", headers=other.headers)
    assert r.status_code == 404 and mid not in r.text
    assert client.delete("/api/v1/members/" + "m" * 41, headers=org.headers).status_code == 422
    assert client.delete(f"/api/v1/members/{mid}").status_code == 401
    assert client.get(f"/api/v1/members/{mid}", headers=org.headers).json()["status"] == "active"
