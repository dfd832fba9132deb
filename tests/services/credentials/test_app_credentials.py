"""The mobile app's own credential (R27): registration, admin actions, revocation, and what
readers receive. Through the REST API, on both databases."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from tests.conftest import Org
from tests.passes.helpers import app_headers, fresh_app_key

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.domain.reader_cache import parse_cache
from passgate.services.readers import reader_state


def _register(client: TestClient, org: Org, member: str, device: str = "phone-1") -> Any:
    return client.post(
        "/api/v1/me/app_credentials",
        json={"public_key": fresh_app_key(), "device_id": device},
        headers=app_headers(client, org.id, member),
    )


def _world(client: TestClient) -> tuple[Org, dict[str, str]]:
    org = Org(client, "acme")
    return org, org.world()


def _reader_cache(client: TestClient, org: Org, reader_id: str) -> Any:
    c: Container = client.app.state.container  # type: ignore[attr-defined]
    state = reader_state.OrgState(org.id)
    with c.uow_factory(org.id, write=False) as uow:
        head = uow.reader_changes.heads([org.id]).get(org.id, (0, 0))[0]
        state.load(uow, head, c.clock.now())
    view = state.view(reader_id)
    assert view is not None
    return parse_cache(view.content())


def test_the_app_registers_its_key_and_learns_the_reader_groups(client: TestClient) -> None:
    org, ids = _world(client)
    r = _register(client, org, ids["member"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "active" and body["member_id"] == ids["member"]
    assert len(body["key_id"]) == 64 and body["id"].startswith("apc_")
    groups = body["reader_groups"]
    assert len(groups) == 1 and len(groups[0]["group_identifier"]) == 32
    # No Apple Pass subscription is needed (the organization has none here).
    listed = client.get("/api/v1/app_credentials", headers=org.headers)
    assert [x["id"] for x in listed.json()] == [body["id"]]
    assert listed.headers["X-Total-Count"] == "1"
    events = client.get("/api/v1/events?type=app_credential.created", headers=org.headers)
    assert events.headers["X-Total-Count"] == "1"


def test_a_new_sign_in_on_the_same_phone_replaces_the_old_key(client: TestClient) -> None:
    org, ids = _world(client)
    first = _register(client, org, ids["member"]).json()
    second = _register(client, org, ids["member"]).json()
    other_phone = _register(client, org, ids["member"], "phone-2").json()
    got = {
        x["id"]: x["status"]
        for x in client.get("/api/v1/app_credentials", headers=org.headers).json()
    }
    assert got == {first["id"]: "deleted", second["id"]: "active", other_phone["id"]: "active"}


def test_a_key_is_never_registered_twice(client: TestClient) -> None:
    org, ids = _world(client)
    key = fresh_app_key()
    headers = app_headers(client, org.id, ids["member"])
    body = {"public_key": key, "device_id": "p"}
    assert client.post("/api/v1/me/app_credentials", json=body, headers=headers).status_code == 201
    again = client.post("/api/v1/me/app_credentials", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["field"] == "public_key"


def test_bad_keys_are_refused_naming_the_field(client: TestClient) -> None:
    org, ids = _world(client)
    headers = app_headers(client, org.id, ids["member"])
    for bad in ("04" + "00" * 64, "zz" * 65, "04" + "11" * 64):
        r = client.post(
            "/api/v1/me/app_credentials",
            json={"public_key": bad, "device_id": "p"},
            headers=headers,
        )
        assert r.status_code == 422 and r.json()["error"]["field"] == "public_key", r.text
    assert client.get("/api/v1/app_credentials", headers=org.headers).json() == []


def test_admins_suspend_resume_and_delete(client: TestClient) -> None:
    org, ids = _world(client)
    cred = _register(client, org, ids["member"]).json()["id"]
    url = f"/api/v1/app_credentials/{cred}"
    assert client.post(url + "/suspend", headers=org.headers).json()["status"] == "suspended"
    assert client.post(url + "/suspend", headers=org.headers).status_code == 409
    assert client.post(url + "/resume", headers=org.headers).json()["status"] == "active"
    assert client.delete(url, headers=org.headers).json()["status"] == "deleted"
    assert client.post(url + "/resume", headers=org.headers).status_code == 409
    types = [e["type"] for e in client.get("/api/v1/events", headers=org.headers).json()]
    for t in ("app_credential.suspended", "app_credential.resumed", "app_credential.deleted"):
        assert t in types


def test_sign_out_deletes_only_the_members_own(client: TestClient) -> None:
    org, ids = _world(client)
    mine = _register(client, org, ids["member"]).json()["id"]
    other = org.post("/members", {"email": "o@example.com", "display_name": "O"})["id"]
    theirs = _register(client, org, other).json()["id"]
    headers = app_headers(client, org.id, ids["member"])
    assert client.delete(f"/api/v1/me/app_credentials/{theirs}", headers=headers).status_code == 404
    r = client.delete(f"/api/v1/me/app_credentials/{mine}", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert (
        client.get(f"/api/v1/app_credentials/{theirs}", headers=org.headers).json()["status"]
        == "active"
    )


def test_deactivating_the_member_and_scim_deprovisioning_revoke(client: TestClient) -> None:
    org, ids = _world(client)
    cred = _register(client, org, ids["member"]).json()["id"]
    r = client.patch(
        f"/api/v1/members/{ids['member']}", json={"status": "deactivated"}, headers=org.headers
    )
    assert r.status_code == 200, r.text
    got = client.get(f"/api/v1/app_credentials/{cred}", headers=org.headers).json()
    assert got["status"] == "deleted"
    # SCIM: an IdP deprovisions another member.
    kim = org.post("/members", {"email": "kim@example.com", "display_name": "Kim"})["id"]
    kims = _register(client, org, kim).json()["id"]
    assert client.delete(f"/scim/v2/Users/{kim}", headers=org.headers).status_code == 204
    got = client.get(f"/api/v1/app_credentials/{kims}", headers=org.headers).json()
    assert got["status"] == "deleted"


def test_readers_receive_app_keys_on_any_model_unless_tampered(client: TestClient) -> None:
    org, ids = _world(client)
    reg = _register(client, org, ids["member"]).json()
    lite = org.post(
        "/readers",
        {"door_id": ids["door"], "name": "Lite", "model": "reader_lite_1_0", "firmware": "1"},
    )["id"]
    for reader in (ids["reader"], lite):
        view = _reader_cache(client, org, reader)
        cred = view.credentials[reg["key_id"]]
        assert cred.view.kind == "mobile_app" and cred.credential_id == reg["id"]
        assert ids["member"] in view.members
    client.post(f"/api/v1/app_credentials/{reg['id']}/suspend", headers=org.headers)
    view = _reader_cache(client, org, lite)
    assert view.credentials[reg["key_id"]].view.status == "suspended"
    # A tampered reader is cut off from every key (R14).
    c: Container = client.app.state.container  # type: ignore[attr-defined]
    with c.uow_factory(org.id) as uow:
        row = uow.repo(m.Reader).get(lite)
        row.tampered = True
        uow.repo(m.Reader).update(row)
    view = _reader_cache(client, org, lite)
    assert view.credentials == {} and view.members == {}
