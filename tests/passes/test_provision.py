"""R4-R10 through the provisioning API, with the real database on both backends."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient
from tests.passes.helpers import (
    MemberApp,
    app_headers,
    iphone,
    new_public_key,
    reader_log_head,
    reader_log_since,
    watch,
)

from passgate.bootstrap import Container
from passgate.domain import model as m


def _container(client: TestClient) -> Container:
    c: Container = client.app.state.container  # type: ignore[attr-defined]
    return c


def _devices(client: TestClient, org_id: str) -> list[m.PassDevice]:
    with _container(client).uow_factory(org_id, write=False) as uow:
        return uow.repo(m.PassDevice).all_where()


def test_first_add_creates_the_pass_with_iphone_and_unlocked_watch(member: MemberApp) -> None:
    r = member.add({"iphone": iphone(), "watch": watch()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["created"] is True and body["status"] == "active"
    assert {d["kind"] for d in body["devices"]} == {"iphone", "watch"}
    assert body["watch"] == {"added": True, "skipped_reason": None, "message": None}
    assert set(body["pkpass_base64"]) == {"iphone", "watch"}
    assert base64.b64decode(body["pkpass_base64"]["iphone"])[:2] == b"PK"
    assert body["serials"]["iphone"] != body["serials"]["watch"]


def test_watch_locked_is_skipped_and_redo_with_it_unlocked_adds_it(member: MemberApp) -> None:
    phone = iphone()
    locked = watch(locked=True)
    r = member.add({"iphone": phone, "watch": locked})
    assert r.status_code == 200, r.text
    assert r.json()["watch"]["skipped_reason"] == "watch_locked"
    assert "locked" in r.json()["watch"]["message"]
    assert [d["kind"] for d in r.json()["devices"]] == ["iphone"]
    r = member.add({"iphone": phone, "watch": {**locked, "locked": False}})
    assert r.status_code == 200
    assert r.json()["created"] is False
    assert sorted(d["kind"] for d in r.json()["devices"]) == ["iphone", "watch"]
    assert r.json()["watch"]["added"] is True


def test_re_adding_on_the_same_devices_changes_nothing(member: MemberApp) -> None:
    body = {"iphone": iphone(), "watch": watch()}
    first = member.add(body).json()
    events_before = member.client.get("/api/v1/events", headers=member.org.headers)
    second = member.add(body)
    assert second.status_code == 200
    assert second.json()["devices"] == first["devices"]
    assert second.json()["serials"] == first["serials"]
    assert second.json()["pkpass_base64"] == first["pkpass_base64"]
    events_after = member.client.get("/api/v1/events", headers=member.org.headers)
    assert events_after.headers["X-Total-Count"] == events_before.headers["X-Total-Count"]


def test_new_iphone_replaces_old_iphone_and_its_watch(member: MemberApp) -> None:
    first = member.add({"iphone": iphone("old-phone"), "watch": watch("old-watch")}).json()
    old_keys = {d["key_id"] for d in first["devices"]}
    head = reader_log_head(_container(member.client), member.org.id)
    r = member.add({"iphone": iphone("new-phone")})
    assert r.status_code == 200
    body = r.json()
    assert {d["key_id"] for d in body["replaced"]} == old_keys
    assert [d["device_id"] for d in body["devices"]] == ["new-phone"]
    status = {d.device_id: d.status for d in _devices(member.client, member.org.id)}
    assert status == {"old-phone": "replaced", "old-watch": "replaced", "new-phone": "active"}
    assert body["serials"]["iphone"] != first["serials"]["iphone"]
    # The readers learn that both old keys changed (their status is now replaced).
    told = reader_log_since(_container(member.client), member.org.id, head)
    assert {("credential", k) for k in old_keys} <= told


def test_new_watch_replaces_the_old_watch_only(member: MemberApp) -> None:
    phone = iphone()
    member.add({"iphone": phone, "watch": watch("w1")})
    r = member.add({"iphone": phone, "watch": watch("w2")})
    assert r.status_code == 200
    assert [d["device_id"] for d in r.json()["replaced"]] == ["w1"]
    status = {d.device_id: d.status for d in _devices(member.client, member.org.id)}
    assert status == {"iphone-1": "active", "w1": "replaced", "w2": "active"}


def test_same_device_with_a_new_key_counts_as_a_new_iphone(member: MemberApp) -> None:
    member.add({"iphone": iphone("p")})
    r = member.add({"iphone": iphone("p")})
    assert len(r.json()["replaced"]) == 1


def test_reusing_a_replaced_key_is_refused(member: MemberApp) -> None:
    key = new_public_key()
    member.add({"iphone": iphone("a", key)})
    member.add({"iphone": iphone("b")})
    r = member.add({"iphone": iphone("a", key)})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "iphone.public_key"


def test_versions_compare_as_numbers(member: MemberApp) -> None:
    for app in ("46.0", "46.10", "100.0"):
        r = member.add({"iphone": iphone(f"p-{app}", app_version=app)})
        assert r.status_code == 200, (app, r.text)
    for app in ("45.9", "5.0"):
        r = member.add({"iphone": iphone(app_version=app)})
        assert r.status_code == 409, app
        error = r.json()["error"]
        assert error["code"] == "app_too_old" and app in error["message"]
        assert "46" in error["message"]
    r = member.add({"iphone": iphone("p-ios", ios_version="17.0.1")})
    assert r.status_code == 200
    for ios in ("16.7", "9.3"):
        r = member.add({"iphone": iphone(ios_version=ios)})
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "ios_too_old"
        assert ios in r.json()["error"]["message"]
    r = member.add({"iphone": iphone(ios_version="17.x")})
    assert r.status_code == 422 and r.json()["error"]["field"] == "ios_version"


def test_adding_while_suspended_is_refused_and_after_delete_gives_new_serial_and_keys(
    member: MemberApp,
) -> None:
    client, admin = member.client, member.org.headers
    first = member.add({"iphone": iphone()}).json()
    pass_id = first["pass_id"]
    assert client.post(f"/api/v1/apple_passes/{pass_id}/suspend", headers=admin).status_code == 200
    r = member.add({"iphone": iphone("other")})
    assert r.status_code == 409 and r.json()["error"]["code"] == "pass_suspended"
    assert client.delete(f"/api/v1/apple_passes/{pass_id}", headers=admin).status_code == 200
    r = member.add({"iphone": iphone("other")})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["created"] is True and second["pass_id"] != pass_id
    assert second["serials"]["iphone"] != first["serials"]["iphone"]
    assert second["devices"][0]["key_id"] != first["devices"][0]["key_id"]


def test_organization_not_eligible_is_refused_first(client: TestClient) -> None:
    from tests.conftest import Org

    org = Org(client, "plain")
    member_id = org.post("/members", {"email": "b@example.com", "display_name": "B"})["id"]
    headers = app_headers(client, org.id, member_id, mfa=False)
    r = client.post("/api/v1/me/apple_pass", json={"iphone": iphone()}, headers=headers)
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "org_not_eligible"
    assert "Single sign-on is not configured" in error["message"]


def test_stale_mfa_and_single_factor_sessions_are_refused(member: MemberApp) -> None:
    client, c = member.client, _container(member.client)
    stale = app_headers(
        client,
        member.org.id,
        member.member_id,
        auth_time=c.clock.now().replace(hour=c.clock.now().hour - 1),
    )
    r = client.post("/api/v1/me/apple_pass", json={"iphone": iphone()}, headers=stale)
    assert r.status_code == 409 and r.json()["error"]["code"] == "mfa_not_fresh"
    single = app_headers(client, member.org.id, member.member_id, mfa=False)
    r = client.post("/api/v1/me/apple_pass", json={"iphone": iphone()}, headers=single)
    assert r.status_code == 409 and r.json()["error"]["code"] == "mfa_required"
    r = client.post("/api/v1/me/apple_pass", json={"iphone": iphone()}, headers=member.org.headers)
    assert r.status_code == 403


def test_bad_public_keys_are_refused_naming_the_field(member: MemberApp) -> None:
    not_on_curve = "04" + "11" * 64
    r = member.add({"iphone": iphone(key=not_on_curve)})
    assert r.status_code == 422 and r.json()["error"]["field"] == "iphone.public_key"
    shared = new_public_key()
    r = member.add({"iphone": iphone(key=shared), "watch": watch(key=shared)})
    assert r.status_code == 422 and r.json()["error"]["field"] == "watch.public_key"
    assert _devices(member.client, member.org.id) == []
