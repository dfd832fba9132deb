"""SPEC sections 4-5, unlocking (R11, R12, R13, R14, R15, R16), end to end.

R11: once added, taps work without the app. R12: Tap to Unlock (NFC) only; a Bluetooth
attempt with the pass's key is ``unsupported_method``. R13: only a Reader Pro 2.1 with
tamper protection on accepts passes; the door API says why not. R14: a tampered reader
unlocks for nobody until an admin clears it. R15: every decision is exactly one stored
event, none lost while offline. R16: a revocation reaches the online reader; an offline
reader decides from its cache up to the staleness limit (36 h), then ``cache_stale``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from tests.e2e.world import Person, World, poll

from passgate.demo.services import DemoReader
from passgate.services.seed import FRONT_DOOR, LAB_DOOR


@pytest.fixture
def front(world: World) -> Iterator[DemoReader]:
    """The front door's reader agent, put back online, untampered and on time afterwards."""
    reader = world.stack.readers[FRONT_DOOR]
    yield reader
    reader.clock.offset = timedelta(0)
    if reader._link is None:  # the test cut the link (DemoReader has no public flag)
        reader.start_link()
    rid = world.stack.reader_ids[FRONT_DOOR]
    if world.api("GET", f"/readers/{rid}").get("tampered"):
        world.api("POST", f"/readers/{rid}/clear-tamper")


def test_iphone_and_watch_open_the_door_with_the_app_signed_out(
    world: World, person: Person
) -> None:
    phone, watch, _ = world.with_pass(person, watch=True)
    assert watch is not None
    token = world.emu.home.device(phone).state.app_token
    out = world.http.post("/api/v1/app/logout", headers={"Authorization": f"Bearer {token}"})
    assert out.status_code == 204
    # The app's session is gone ...
    assert "HTTP 401" in world.refused(lambda: world.emu.add_pass(phone))
    # ... and the Wallet keys still open the door.
    world.tap_until(person, phone, "granted")
    world.tap_until(person, watch, "granted")


def test_bluetooth_with_the_apple_pass_key_is_refused(world: World, person: Person) -> None:
    phone, _, _ = world.with_pass(person)
    world.tap_until(person, phone, "granted")
    got = world.emu.bluetooth(phone, FRONT_DOOR)
    world.taps[person.member_id] += 1
    assert got["granted"] is False and got["reason"] == "unsupported_method"


def test_door_without_tamper_protection_refuses_passes_and_says_why(
    world: World, person: Person
) -> None:
    phone, _, _ = world.with_pass(person)
    got = world.tap_until(person, phone, "tamper_protection_off", door=LAB_DOOR)
    assert got["granted"] is False
    doors = {d["name"]: d["apple_pass"] for d in world.api("GET", "/doors")}
    assert doors[FRONT_DOOR] == {"ready": True, "reasons": []}
    assert doors[LAB_DOOR]["ready"] is False
    assert "tamper_protection_off" in doors[LAB_DOOR]["reasons"]


def test_unknown_key_is_denied(world: World, person: Person) -> None:
    stranger = person.dev("stranger")
    world.emu.new_iphone(stranger)
    assert world.tap(person, stranger)["reason"] == "unknown_credential"


def test_tampered_reader_halts_for_everyone_until_the_admin_clears_it(
    world: World, person: Person, front: DemoReader
) -> None:
    phone, watch, _ = world.with_pass(person, watch=True)
    assert watch is not None
    world.tap_until(person, phone, "granted")
    front.agent.tamper()
    assert world.tap(person, phone)["reason"] == "reader_tampered"
    assert world.tap(person, watch)["reason"] == "reader_tampered"
    rid = world.stack.reader_ids[FRONT_DOOR]
    poll(
        lambda: world.events(type="reader.tampered", reader_id=rid),
        lambda evs: len(evs) > 0,
        "the reader.tampered event",
    )
    assert poll(lambda: world.api("GET", f"/readers/{rid}"), lambda r: r["tampered"], "latch")
    world.api("POST", f"/readers/{rid}/clear-tamper")
    world.tap_until(person, phone, "granted")
    world.tap_until(person, watch, "granted")


def test_revocation_reaches_the_online_reader(world: World, person: Person) -> None:
    phone, _, added = world.with_pass(person)
    world.tap_until(person, phone, "granted")
    world.api("POST", f"/apple_passes/{added.body['pass_id']}/suspend")
    world.tap_until(person, phone, "pass_suspended")
    world.api("POST", f"/apple_passes/{added.body['pass_id']}/resume")
    world.tap_until(person, phone, "granted")


def test_offline_reader_decides_from_cache_until_the_staleness_limit(
    world: World, person: Person, front: DemoReader
) -> None:
    phone, _, _ = world.with_pass(person)
    world.tap_until(person, phone, "granted")
    front.stop_link()
    front.clock.offset = timedelta(hours=35)
    assert world.tap(person, phone)["reason"] == "granted"
    front.clock.offset = timedelta(hours=37)
    assert world.tap(person, phone)["reason"] == "cache_stale"
    front.clock.offset = timedelta(0)
    front.start_link()
    world.tap_until(person, phone, "granted")
    # The decisions made offline reached the server after the link came back (R15).
    poll(
        lambda: world.events(member_id=person.member_id, reason="cache_stale"),
        lambda evs: len(evs) == 1,
        "the offline cache_stale event",
    )


def test_every_decision_is_exactly_one_stored_event(world: World, person: Person) -> None:
    # Tests run one at a time: every access event not stored yet is one of this test's taps.
    before = {e["id"] for e in world.events(category="access")}
    phone, watch, _ = world.with_pass(person, watch=True)
    assert watch is not None
    world.tap_until(person, phone, "granted")
    world.tap_until(person, watch, "granted")
    world.tap_until(person, phone, "tamper_protection_off", door=LAB_DOOR)
    world.emu.bluetooth(phone, FRONT_DOOR)
    world.taps[person.member_id] += 1
    world.tap(person, person.dev("phone"), door=LAB_DOOR)
    made = world.taps[person.member_id]

    def stored() -> list[dict[str, Any]]:
        return [e for e in world.events(category="access") if e["id"] not in before]

    got = poll(stored, lambda evs: len(evs) >= made, f"{made} access events")
    assert len(got) == made, [(e["reason"], e["data"].get("sequence")) for e in got]
    ids = {(e["reader_id"], e["data"]["sequence"]) for e in got}
    assert len(ids) == made, "an event was stored twice"
    reasons = {e["reason"] for e in got}
    assert {"granted", "tamper_protection_off", "unsupported_method"} <= reasons
