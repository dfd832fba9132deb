"""SPEC section 6, administration (R17, R18, R19, R20, R21), end to end through the REST API.

R17: the pass list with its Devices column (iphone/watch/both/none), filter and search.
R18: a pass's page: devices, recent events. R19: suspend/resume/delete seen by the
Wallet copies (after push + sync) and at the reader. R20: the API actions are audit
events naming who did it. R21: another organization's key sees and changes nothing.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.world import Person, World, poll


def _row(world: World, person: Person) -> dict[str, Any]:
    rows = world.api("GET", "/apple_passes", params={"q": person.email})
    assert len(rows) == 1, rows
    return dict(rows[0])


def test_pass_list_devices_column_filter_and_search(world: World) -> None:
    only_phone = world.new_person()
    both = world.new_person()
    gone = world.new_person()
    world.with_pass(only_phone)
    world.with_pass(both, watch=True)
    _, _, deleted = world.with_pass(gone)
    world.api("DELETE", f"/apple_passes/{deleted.body['pass_id']}")
    assert _row(world, only_phone)["devices"] == "iphone"
    assert _row(world, both)["devices"] == "both"
    assert _row(world, gone)["devices"] == "none"
    assert _row(world, gone)["status"] == "deleted"
    emails = {
        r["member_email"] for r in world.api("GET", "/apple_passes", params={"device": "both"})
    }
    assert both.email in emails and only_phone.email not in emails
    active = {
        r["member_email"] for r in world.api("GET", "/apple_passes", params={"status": "active"})
    }
    assert {only_phone.email, both.email} <= active and gone.email not in active


def test_pass_page_shows_devices_and_recent_events(world: World, person: Person) -> None:
    phone, _, added = world.with_pass(person, watch=True)
    world.tap_until(person, phone, "granted")
    pass_id = added.body["pass_id"]
    detail = poll(
        lambda: world.api("GET", f"/apple_passes/{pass_id}"),
        lambda d: "access.granted" in {e["type"] for e in d["events"]},
        "the granted tap among the pass's recent events",
    )
    kinds = sorted((d["kind"], d["model"], d["status"]) for d in detail["device_list"])
    assert kinds == [("iphone", "iPhone16,1", "active"), ("watch", "Watch7,1", "active")]
    types = {e["type"] for e in detail["events"]}
    assert {"apple_pass.created", "apple_pass.device_added"} <= types


def test_last_used_is_set_after_a_granted_tap(world: World, person: Person) -> None:
    phone, _, added = world.with_pass(person)
    world.tap_until(person, phone, "granted")
    pass_id = added.body["pass_id"]
    poll(
        lambda: world.api("GET", f"/apple_passes/{pass_id}"),
        lambda d: d["last_used_at"] is not None and d["device_list"][0]["last_used_at"],
        "last used to be set after a granted tap",
        limit_s=5.0,
    )


def test_suspend_and_resume_reach_wallet_and_reader(world: World, person: Person) -> None:
    phone, watch, added = world.with_pass(person, watch=True)
    assert watch is not None
    pass_id = added.body["pass_id"]
    world.tap_until(person, phone, "granted")
    assert world.api("POST", f"/apple_passes/{pass_id}/suspend")["status"] == "suspended"
    world.tap_until(person, phone, "pass_suspended")
    world.tap_until(person, watch, "pass_suspended")
    world.wallet_shows(phone, "Suspended", voided=False)
    world.wallet_shows(watch, "Suspended", voided=False)
    assert world.api("POST", f"/apple_passes/{pass_id}/resume")["status"] == "active"
    world.tap_until(person, phone, "granted")
    world.tap_until(person, watch, "granted")
    world.wallet_shows(phone, "Active", voided=False)
    world.wallet_shows(watch, "Active", voided=False)


def test_delete_voids_wallet_copies_and_is_final_at_the_reader(
    world: World, person: Person
) -> None:
    phone, watch, added = world.with_pass(person, watch=True)
    assert watch is not None
    pass_id = added.body["pass_id"]
    assert world.api("DELETE", f"/apple_passes/{pass_id}")["status"] == "deleted"
    world.tap_until(person, phone, "pass_deleted")
    world.tap_until(person, watch, "pass_deleted")
    world.wallet_shows(phone, "Deleted", voided=True)
    world.wallet_shows(watch, "Deleted", voided=True)
    # Deleted is for good: resume is refused and the reader keeps denying.
    r = world.call("POST", f"/apple_passes/{pass_id}/resume")
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.text
    assert world.tap(person, phone)["reason"] == "pass_deleted"


def test_admin_actions_are_audit_events_naming_the_actor(world: World, person: Person) -> None:
    _, _, added = world.with_pass(person)
    pass_id = added.body["pass_id"]
    world.api("POST", f"/apple_passes/{pass_id}/suspend")
    world.api("POST", f"/apple_passes/{pass_id}/resume")
    world.api("DELETE", f"/apple_passes/{pass_id}")
    audit = world.events(category="audit", member_id=person.member_id)
    by_type = {e["type"]: e for e in audit if e["object_id"] == pass_id}
    for kind in ("apple_pass.suspended", "apple_pass.resumed", "apple_pass.deleted"):
        event = by_type.get(kind)
        assert event is not None, sorted(by_type)
        assert event["actor_type"] == "api_key" and event["actor_name"] == "demo admin", event
        assert event["actor_id"] and event["occurred_at"]
    created = by_type["apple_pass.created"]
    assert created["actor_type"] == "member" and created["actor_id"] == person.member_id
    assert str(created["data"]["session_id"]).startswith("ses_")


def test_another_organization_sees_and_changes_nothing(world: World, person: Person) -> None:
    phone, _, added = world.with_pass(person)
    pass_id = added.body["pass_id"]
    _, other = world.new_org_key()
    for method, path in (
        ("GET", f"/apple_passes/{pass_id}"),
        ("POST", f"/apple_passes/{pass_id}/suspend"),
        ("POST", f"/apple_passes/{pass_id}/resume"),
        ("DELETE", f"/apple_passes/{pass_id}"),
        ("GET", f"/members/{person.member_id}"),
    ):
        r = world.call(method, path, key=other)
        assert r.status_code == 404, (method, path, r.status_code)
        assert pass_id not in r.text and person.email not in r.text
    for path in ("/apple_passes", "/members", "/events"):
        r = world.call("GET", path, key=other, params={"limit": 500})
        assert r.status_code == 200 and pass_id not in r.text and person.email not in r.text
    # Nothing changed: the pass is still active and opens the door.
    assert _row(world, person)["status"] == "active"
    world.tap_until(person, phone, "granted")
