"""Fuzz invariants: a peer's garbage ends in a deny or an error status word, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.proto.aliro.aliro_support import GROUP, INSTANCE, Cache, fixed_key

from passgate.proto.aliro import (
    DeviceApplet,
    ReaderIdentity,
    TransactionResult,
    Transcript,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.apdu import CommandApdu, ResponseApdu
from passgate.proto.tlv import encode_tlv

IDENTITY = ReaderIdentity(GROUP, INSTANCE, fixed_key(0xA11CE))
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_pair(fast: bool) -> tuple[Cache, DeviceApplet]:
    applet = DeviceApplet(fixed_key(0xD0D0), persistent_keys={})
    cache = Cache()
    cache.add(applet.public_key)
    if fast:
        result = run_transaction(cache.transaction(IDENTITY), applet)
        cache.add(applet.public_key, result.new_persistent_key)
    return cache, applet


PAIRS = {fast: fresh_pair(fast) for fast in (False, True)}

tlv_item = st.builds(
    encode_tlv,
    st.sampled_from([0x86, 0x9D, 0x5A, 0x9E, 0x4E, 0x6F, 0xA5, 0x5C, 0x7F66, 0x41]),
    st.binary(max_size=80),
)
responses = st.one_of(
    st.binary(max_size=300),
    st.lists(tlv_item, max_size=4).map(lambda items: b"".join(items) + b"\x90\x00"),
)


@FUZZ
@given(step=st.integers(0, 2), fast=st.booleans(), garbage=responses)
def test_reader_never_raises_on_any_response(step: int, fast: bool, garbage: bytes) -> None:
    cache, applet = PAIRS[fast]
    tx = cache.transaction(IDENTITY)
    command: bytes | TransactionResult = tx.start()
    for _ in range(step):
        assert isinstance(command, bytes)
        command = tx.receive(applet.process(command))
        if isinstance(command, TransactionResult):
            return  # FAST finished before the step we wanted to corrupt
    outcome = tx.receive(garbage)
    if isinstance(outcome, TransactionResult):
        assert not outcome.authenticated
        assert outcome.error is not None
    else:
        assert isinstance(outcome, bytes)
        CommandApdu.parse(outcome)


@FUZZ
@given(data=st.data())
def test_any_tampered_standard_response_is_denied(data: st.DataObject) -> None:
    """Flip one byte of one device response in a STANDARD run: never authenticated."""
    cache, applet = PAIRS[False]
    transcript: Transcript = []
    run_transaction(cache.transaction(IDENTITY, prefer_fast=False), applet, transcript=transcript)
    index = data.draw(st.integers(0, 2))
    original = transcript[index][1]
    pos = data.draw(st.integers(0, len(original) - 1))
    flip = data.draw(st.integers(1, 255))
    tx = cache.transaction(IDENTITY, prefer_fast=False)
    command: bytes | TransactionResult = tx.start()
    step = 0
    while isinstance(command, bytes):
        response = applet.process(command)
        if step == index:
            response = response[:pos] + bytes([response[pos] ^ flip]) + response[pos + 1 :]
        command = tx.receive(response)
        step += 1
    assert not command.authenticated


@FUZZ
@given(garbage=st.binary(max_size=300), prefix=st.integers(0, 2))
def test_device_never_raises_on_any_command(garbage: bytes, prefix: int) -> None:
    applet = DeviceApplet(fixed_key(0xD0D0), persistent_keys={})
    tx = Cache().transaction(IDENTITY)
    command: bytes | TransactionResult = tx.start()
    for _ in range(prefix):  # bring the applet into the selected / auth0 state first
        assert isinstance(command, bytes)
        command = tx.receive(applet.process(command))
    response = applet.process(garbage)
    ResponseApdu.parse(response)
    assert len(response) >= 2


@FUZZ
@given(
    ins=st.sampled_from([c.INS_AUTH0, c.INS_AUTH1, c.INS_CONTROL_FLOW]),
    body=st.lists(
        st.builds(
            encode_tlv,
            st.sampled_from([0x41, 0x42, 0x43, 0x5C, 0x87, 0x4C, 0x4D, 0x9E, 0x5A]),
            st.binary(max_size=70),
        ),
        max_size=7,
    ),
)
def test_device_never_raises_on_structured_commands(ins: int, body: list[bytes]) -> None:
    applet = DeviceApplet(fixed_key(0xD0D0), persistent_keys={})
    select = CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode()
    assert ResponseApdu.parse(applet.process(select)).ok
    data = b"".join(body)[:255]
    response = applet.process(CommandApdu(0x80, ins, 0, 0, data).encode())
    ResponseApdu.parse(response)
