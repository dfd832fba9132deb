"""SPEC R27 (MotionSense) and R12, end to end on the demo stack.

The emulated app registers its own key at sign-in; a wave at a door runs the Aliro
exchange over the reader's emulated Bluetooth LE link; the reader decides from its
cache with the same rules. Every attempt that reaches a reader is exactly one stored
event (R15); a wave with Bluetooth off reaches nothing.
"""

from __future__ import annotations

import hashlib
import socket
import struct
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from tests.e2e.world import Person, World, poll

from passgate.cli import main
from passgate.proto import motionsense as ms
from passgate.services.seed import FRONT_DOOR
from passgate.sim.emulator import BluetoothOff


def _wave(world: World, who: Person, device: str) -> dict[str, Any]:
    got = world.emu.wave(device, FRONT_DOOR)
    world.taps[who.member_id] = world.taps.get(who.member_id, 0) + 1
    return got


def _wave_until(world: World, who: Person, device: str, reason: str) -> dict[str, Any]:
    return poll(
        lambda: _wave(world, who, device),
        lambda got: got.get("reason") == reason,
        f"{device} waves -> {reason}",
    )


def _ble_events(world: World, key: bytes) -> list[dict[str, Any]]:
    """The Bluetooth events of one key (a wave before the key reached the reader is an
    ``unknown_credential`` event naming no member, so the key is what they share)."""
    key_id = hashlib.sha256(key).hexdigest()
    return [
        e
        for e in world.events(category="access")
        if e["data"].get("method") == "ble" and e["data"].get("key_id") == key_id
    ]


def _stored(world: World, key: bytes | None, count: int) -> list[dict[str, Any]]:
    assert key is not None
    return poll(
        lambda: _ble_events(world, key),
        lambda evs: len(evs) >= count,
        f"{count} Bluetooth events stored",
    )


def _app_key(world: World, phone: str) -> bytes | None:
    return world.emu.home.device(phone).app_public_key


def test_sign_in_registers_the_app_credential_and_a_wave_opens(
    world: World, person: Person
) -> None:
    phone = world.phone_signed_in(person)
    device = world.emu.home.device(phone)
    credential = device.state.app_credential_id
    assert credential and device.state.bluetooth
    assert device.app_public_key is not None and device.app_public_key != device.public_key
    listed = world.api("GET", "/app_credentials", params={"member_id": person.member_id})
    assert [(c["id"], c["status"]) for c in listed] == [(credential, "active")]
    assert listed[0]["key_id"] == hashlib.sha256(device.app_public_key).hexdigest()

    first = _wave_until(world, person, phone, "granted")
    assert first["granted"] and first["confirmed"]  # the encrypted EXCHANGE said so too
    assert _wave(world, person, phone)["flow"] == "fast"
    events = _stored(world, _app_key(world, phone), world.taps[person.member_id])
    assert len(events) == world.taps[person.member_id]  # one event per attempt (R15)
    granted = [e for e in events if e["granted"]]
    assert granted and {e["credential_id"] for e in granted} == {credential}


def test_bluetooth_off_does_nothing_and_suspension_denies(world: World, person: Person) -> None:
    phone = world.phone_signed_in(person)
    credential = world.emu.home.device(phone).state.app_credential_id
    _wave_until(world, person, phone, "granted")
    made = world.taps[person.member_id]
    world.emu.set_bluetooth(phone, False)
    with pytest.raises(BluetoothOff):
        world.emu.wave(phone, FRONT_DOOR)
    world.emu.set_bluetooth(phone, True)

    world.api("POST", f"/app_credentials/{credential}/suspend")
    denied = _wave_until(world, person, phone, "credential_suspended")
    assert denied["granted"] is False and denied["confirmed"] is False
    world.api("POST", f"/app_credentials/{credential}/resume")
    _wave_until(world, person, phone, "granted")
    events = _stored(world, _app_key(world, phone), world.taps[person.member_id])
    assert len(events) == world.taps[person.member_id] > made  # the Bluetooth-off wave: none

    world.emu.sign_out(phone)
    assert world.api("GET", f"/app_credentials/{credential}")["status"] == "deleted"
    with pytest.raises(BluetoothOff):
        world.emu.wave(phone, FRONT_DOOR)


def _raw_wave(address: str, answer: Callable[[bytes], bytes]) -> ms.Decision:
    """The app's side of a wave by hand: ``answer`` gets each command APDU."""
    host, _, port = address.rpartition(":")
    decoder = ms.Decoder(ms.FROM_READER)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(struct.pack(">H", 1) + b"W")
        while True:
            chunk = sock.recv(4096)
            assert chunk, "the reader closed the link before deciding"
            for message in decoder.feed(chunk):
                if message.type == ms.DECISION:
                    return ms.Decision.parse(message.payload)
                assert message.type == ms.READER_APDU
                sock.sendall(ms.app_response(answer(message.payload)))


def test_a_recorded_exchange_replayed_is_denied(world: World, person: Person) -> None:
    phone = world.phone_signed_in(person)
    _wave_until(world, person, phone, "granted")
    address = world.stack.readers[FRONT_DOOR].address
    applet = world.emu.home.device(phone).app_applet()
    assert applet is not None
    recorded: list[bytes] = []

    def record(command: bytes) -> bytes:
        response = applet.process(command)
        recorded.append(response)
        return response

    genuine = _raw_wave(address, record)
    assert genuine.granted and applet.granted
    world.taps[person.member_id] += 1
    events = _stored(world, _app_key(world, phone), world.taps[person.member_id])
    assert len(events) == world.taps[person.member_id] and events[0]["granted"]

    def anonymous() -> list[dict[str, Any]]:
        # A replay never authenticates, so its event names no key and no member.
        return [
            e
            for e in world.events(category="access")
            if e["data"].get("method") == "ble" and "key_id" not in e["data"]
        ]

    before = len(anonymous())

    def replay(command: bytes) -> bytes:
        return recorded.pop(0) if recorded else b"\x6f\x00"

    replayed = _raw_wave(address, replay)
    assert not replayed.granted
    after = poll(anonymous, lambda evs: len(evs) >= before + 1, "the replay's event")
    assert len(after) == before + 1 and not after[0]["granted"]  # one denied event
    assert len(_ble_events(world, _app_key(world, phone) or b"")) == world.taps[person.member_id]


def test_the_apple_pass_over_bluetooth_stays_unsupported(world: World, person: Person) -> None:
    phone, _, _ = world.with_pass(person)
    world.tap_until(person, phone, "granted")
    got = world.emu.bluetooth(phone, FRONT_DOOR)
    assert got["granted"] is False and got["reason"] == "unsupported_method"
    events = _stored(world, world.emu.home.device(phone).public_key, 1)
    assert [e["reason"] for e in events] == ["unsupported_method"]


def test_the_cli_story_login_wave_bluetooth_off(world: World, person: Person) -> None:
    home = str(world.stack.sim_home.root)
    phone = person.dev("phone")

    def sim(*args: str) -> Any:
        return CliRunner().invoke(main, ["sim", "--home", home, *args])

    assert sim("iphone", phone).exit_code == 0
    login = sim("login", phone, person.username)
    assert login.exit_code == 0, login.output
    assert "app credential apc_" in login.output and "Bluetooth on" in login.output
    waved = poll(
        lambda: sim("wave", phone, FRONT_DOOR),
        lambda r: r.exit_code == 0,
        "a CLI wave that opens",
    )
    assert "GRANTED: granted" in waved.output
    assert sim("ble-off", phone).exit_code == 0
    off = sim("wave", phone, FRONT_DOOR)
    assert off.exit_code == 1 and "Bluetooth is off, nothing happened" in off.output
    out = sim("logout", phone)
    assert out.exit_code == 0 and "app credential deleted" in out.output
