"""Fuzz invariants: a peer's garbage ends in a deny or an error status word, never a crash."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.proto.aliro.aliro_support import (
    GROUP,
    READER_KEY,
    SUB,
    Cache,
    fixed_key,
    tap,
    vector_device,
)

from passgate.proto.aliro import (
    AliroError,
    DeviceApplet,
    InMemory,
    ReaderCertificate,
    TransactionResult,
    Transcript,
    crypto,
    issue,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.messages import (
    Auth0Command,
    Auth0Response,
    Auth1Command,
    Auth1Response,
    ControlFlow,
    parse_fci,
)
from passgate.proto.aliro.reader import ReaderIdentity
from passgate.proto.apdu import CommandApdu, ResponseApdu
from passgate.proto.tlv import encode_tlv

IDENTITY = ReaderIdentity.with_key(GROUP, SUB, READER_KEY)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_pair(fast: bool) -> tuple[Cache, DeviceApplet]:
    applet = vector_device()
    cache = Cache()
    cache.add(applet.public_key)
    if fast:
        tap(cache, IDENTITY, applet)
    return cache, applet


PAIRS = {fast: fresh_pair(fast) for fast in (False, True)}

tlv_item = st.builds(
    encode_tlv,
    st.sampled_from([0x86, 0x9D, 0x5A, 0x9E, 0x4E, 0x5E, 0x6F, 0xA5, 0x5C, 0x7F66, 0x41, 0x97]),
    st.binary(max_size=80),
)
responses = st.one_of(
    st.binary(max_size=300),
    st.lists(tlv_item, max_size=4).map(lambda items: b"".join(items) + b"\x90\x00"),
    st.binary(max_size=40).map(lambda b: b + b"\x61\x10"),
)


@FUZZ
@given(step=st.integers(0, 2), fast=st.booleans(), garbage=responses)
def test_reader_never_raises_on_any_response(step: int, fast: bool, garbage: bytes) -> None:
    cache, applet = PAIRS[fast]
    tx = cache.transaction(IDENTITY)
    command: CommandApdu | TransactionResult = tx.start()
    for _ in range(step):
        assert isinstance(command, CommandApdu)
        command = tx.receive(applet.process(command.encode()))
        if isinstance(command, TransactionResult):
            return  # FAST finished before the step we wanted to corrupt
    outcome = tx.receive(garbage)
    if isinstance(outcome, TransactionResult):
        assert not outcome.authenticated
        assert outcome.error is not None
        closing = tx.finish(False)
        assert closing.ins in (c.INS_CONTROL_FLOW, c.INS_EXCHANGE)
    else:
        CommandApdu.parse(outcome.encode())


@FUZZ
@given(data=st.data())
def test_any_tampered_standard_answer_is_denied(data: st.DataObject) -> None:
    """Flip one byte of one device answer in a STANDARD run: never authenticated."""
    cache, applet = PAIRS[False]
    transcript: Transcript = []
    run_transaction(cache.transaction(IDENTITY, prefer_fast=False), InMemory(applet, transcript))
    index = data.draw(st.integers(0, 2))
    original = transcript[index][1]
    pos = data.draw(st.integers(0, len(original) - 3))  # the data, not the status word
    flip = data.draw(st.integers(1, 255))
    tx = cache.transaction(IDENTITY, prefer_fast=False)
    command: CommandApdu | TransactionResult = tx.start()
    step = 0
    while isinstance(command, CommandApdu):
        response = applet.process(command.encode())
        if step == index:
            response = response[:pos] + bytes([response[pos] ^ flip]) + response[pos + 1 :]
        command = tx.receive(response)
        step += 1
    assert not command.authenticated


@FUZZ
@given(garbage=st.binary(max_size=300), prefix=st.integers(0, 3))
def test_device_never_raises_on_any_command(garbage: bytes, prefix: int) -> None:
    applet = vector_device()
    tx = Cache().transaction(IDENTITY, prefer_fast=False)
    command: CommandApdu | TransactionResult = tx.start()
    for _ in range(prefix):  # bring the applet into the selected / auth0 / auth1 state first
        if not isinstance(command, CommandApdu):
            break
        command = tx.receive(applet.process(command.encode()))
    response = applet.process(garbage)
    assert len(response) >= 2
    ResponseApdu.parse(response)


@FUZZ
@given(
    ins=st.sampled_from(
        [c.INS_AUTH0, c.INS_AUTH1, c.INS_LOAD_CERTIFICATE, c.INS_EXCHANGE, c.INS_CONTROL_FLOW]
    ),
    chained=st.booleans(),
    body=st.lists(
        st.builds(
            encode_tlv,
            st.sampled_from([0x41, 0x42, 0x43, 0x5C, 0x87, 0x4C, 0x4D, 0x9E, 0x90, 0x97, 0x30]),
            st.binary(max_size=70),
        ),
        max_size=7,
    ),
)
def test_device_never_raises_on_structured_commands(
    ins: int, chained: bool, body: list[bytes]
) -> None:
    applet = vector_device()
    select = CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode()
    assert ResponseApdu.parse(applet.process(select)).ok
    data = b"".join(body)[:255]
    if chained:
        applet.process(CommandApdu(0x90, ins, 0, 0, data[:100]).encode())
        data = data[100:]
    response = applet.process(CommandApdu(0x80, ins, 0, 0, data, 256).encode())
    ResponseApdu.parse(response)


@FUZZ
@given(garbage=st.binary(max_size=400))
def test_message_parsers_raise_only_aliro_errors(garbage: bytes) -> None:
    for parse in (
        parse_fci,
        Auth0Command.parse,
        Auth0Response.parse,
        Auth1Command.parse,
        Auth1Response.parse,
        ControlFlow.parse,
        ReaderCertificate.parse,
    ):
        with contextlib.suppress(AliroError):  # the one exception type a caller handles
            parse(garbage)


@FUZZ
@given(pos=st.integers(0, 400), flip=st.integers(1, 255))
def test_any_flipped_certificate_byte_is_refused(pos: int, flip: int) -> None:
    now = datetime.now(UTC)
    cert = issue(
        READER_KEY,
        serial=3,
        issuer="Readers",
        subject="Door",
        public_key=crypto.public_bytes(fixed_key(5)),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=1),
    ).encode()
    pos %= len(cert)
    bad = cert[:pos] + bytes([cert[pos] ^ flip]) + cert[pos + 1 :]
    try:
        parsed = ReaderCertificate.parse(bad)
    except AliroError:
        return
    assert not parsed.verify(READER_KEY.public_key(), now)
