"""SPEC section 4, devices: one iPhone plus one Apple Watch (R8, R9, R10), end to end.

R8: each bound device has its own P-256 key, the server sees only the public half.
R9: a locked watch is skipped (the answer says so) and a repeat add with it unlocked
puts the pass there. R10: a new iPhone makes the old iPhone and its watch invalid at
once (readers deny ``device_replaced``, their Wallet copies are voided after the push
and sync); a new watch replaces the old watch; re-adding on the same device is idempotent.
"""

from __future__ import annotations

from tests.e2e.world import Person, World


def test_locked_watch_is_skipped_then_the_redo_adds_it(world: World, person: Person) -> None:
    phone = world.phone_signed_in(person)
    watch = person.dev("watch")
    world.emu.new_watch(watch, iphone=phone, locked=True)
    first = world.emu.add_pass(phone)
    assert first.watch_skipped == "watch_locked"
    assert "locked" in first.body["watch"]["message"]
    assert first.added_to == [phone] and world.emu.passes(watch) == []
    assert world.tap(person, watch)["reason"] == "unknown_credential"

    world.emu.set_locked(watch, False)
    again = world.emu.add_pass(phone)
    assert sorted(again.added_to) == sorted([phone, watch])
    assert again.body["pass_id"] == first.body["pass_id"] and again.body["created"] is False
    kinds = sorted(d["kind"] for d in again.body["devices"])
    assert kinds == ["iphone", "watch"]
    world.tap_until(person, watch, "granted")


def test_each_device_has_its_own_key_and_only_the_public_half_leaves_it(
    world: World, person: Person
) -> None:
    phone, watch, added = world.with_pass(person, watch=True)
    assert watch is not None
    keys = {d["kind"]: d["key_id"] for d in added.body["devices"]}
    assert keys == {
        "iphone": world.emu.home.device(phone).key_id,
        "watch": world.emu.home.device(watch).key_id,
    }
    detail = world.api("GET", f"/apple_passes/{added.body['pass_id']}")
    assert "PRIVATE" not in str(detail)
    assert {d["key_id"] for d in detail["device_list"]} == set(keys.values())


def test_new_iphone_invalidates_the_old_iphone_and_its_watch(world: World, person: Person) -> None:
    phone, watch, first = world.with_pass(person, watch=True)
    assert watch is not None
    world.tap_until(person, phone, "granted")
    world.tap_until(person, watch, "granted")

    new_phone = world.phone_signed_in(person, "new-phone")
    moved = world.emu.add_pass(new_phone)
    assert moved.body["pass_id"] == first.body["pass_id"]
    assert sorted(d["kind"] for d in moved.body["replaced"]) == ["iphone", "watch"]

    world.tap_until(person, phone, "device_replaced")
    world.tap_until(person, watch, "device_replaced")
    world.tap_until(person, new_phone, "granted")
    world.wallet_shows(phone, "Replaced by a newer device", voided=True)
    world.wallet_shows(watch, "Replaced by a newer device", voided=True)
    # The new iPhone's copy is untouched and current.
    assert [(p.status, p.voided) for p in world.emu.passes(new_phone)] == [("Active", False)]
    row = world.api("GET", f"/apple_passes/{first.body['pass_id']}")
    assert row["devices"] == "iphone"


def test_new_watch_replaces_the_previous_watch(world: World, person: Person) -> None:
    phone, old_watch, first = world.with_pass(person, watch=True)
    assert old_watch is not None
    new_watch = person.dev("watch2")
    world.emu.new_watch(new_watch, iphone=phone)  # pairing it unpairs the old one
    again = world.emu.add_pass(phone)
    assert [d["kind"] for d in again.body["replaced"]] == ["watch"]
    assert sorted(again.added_to) == sorted([phone, new_watch])
    world.tap_until(person, old_watch, "device_replaced")
    world.tap_until(person, new_watch, "granted")
    world.tap_until(person, phone, "granted")
    world.wallet_shows(old_watch, "Replaced by a newer device", voided=True)
    assert again.body["pass_id"] == first.body["pass_id"]


def test_re_adding_on_the_same_iphone_changes_nothing(world: World, person: Person) -> None:
    phone, watch, first = world.with_pass(person, watch=True)
    again = world.emu.add_pass(phone)
    assert again.body["replaced"] == [] and again.body["created"] is False
    assert again.body["serials"] == first.body["serials"]
    world.tap_until(person, phone, "granted")
    assert watch is not None
    world.tap_until(person, watch, "granted")


def test_moving_back_to_the_previous_iphone_before_its_wallet_heard_makes_a_new_key(
    world: World, person: Person
) -> None:
    phone, _, first = world.with_pass(person)
    new_phone = world.phone_signed_in(person, "new-phone")
    world.emu.add_pass(new_phone)
    # Straight back, before the old iPhone's Wallet synced: its copy still looks current,
    # but its key was replaced. The app must make a new key rather than send the dead one.
    dead_key = world.emu.home.device(phone).public_key
    back = world.emu.add_pass(phone)
    assert back.body["pass_id"] == first.body["pass_id"]
    assert world.emu.home.device(phone).public_key != dead_key
    world.tap_until(person, phone, "granted")
    world.tap_until(person, new_phone, "device_replaced")
