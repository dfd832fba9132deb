"""MotionSense framing (proto.motionsense): exact bytes, strict parsing, fuzz."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.proto import motionsense as ms
from passgate.proto.aliro import (
    AliroError,
    DeviceApplet,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    crypto,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.runner import run_transaction

FUZZ = settings(max_examples=300, deadline=None)


def test_messages_have_type_length_payload() -> None:
    assert ms.reader_apdu(bytes.fromhex("00a40400")) == bytes.fromhex("01000400a40400")
    assert ms.app_response(b"\x90\x00") == bytes.fromhex("0200029000")
    assert ms.abort() == bytes.fromhex("04000101")
    assert ms.Decision(True, "granted", "fast").message().encode() == (
        bytes.fromhex("0300090102") + b"granted"
    )
    assert ms.Decision.parse(b"\x00\x00unsupported_method") == ms.Decision(
        False, "unsupported_method", None
    )


@pytest.mark.parametrize(
    "kind, payload",
    [
        (0x00, b"\x90\x00"),  # unknown type
        (0x7F, b""),
        (ms.READER_APDU, b"\x00\xa4\x04"),  # shorter than a command header
        (ms.READER_APDU, bytes(ms.MAX_COMMAND + 1)),  # longer than a short APDU
        (ms.APP_RESPONSE, b"\x90"),  # no status word
        (ms.APP_RESPONSE, bytes(ms.MAX_RESPONSE + 1)),
        (ms.DECISION, b"\x02\x00granted"),  # granted must be 00 or 01
        (ms.DECISION, b"\x01\x03granted"),  # unknown flow
        (ms.DECISION, b"\x01\x01Granted"),  # reason outside [a-z_]
        (ms.DECISION, b"\x01\x01"),  # no reason
        (ms.ABORT, b"\x09"),
        (ms.ABORT, b"\x01\x01"),
    ],
)
def test_malformed_messages_are_refused(kind: int, payload: bytes) -> None:
    with pytest.raises(ms.MotionSenseError):
        ms.Message(kind, payload)
    raw = bytes((kind,)) + len(payload).to_bytes(2, "big") + payload
    with pytest.raises(ms.MotionSenseError):
        ms.Decoder(ms.BOUNDS).feed(raw)


def test_a_side_refuses_the_other_sides_messages() -> None:
    with pytest.raises(ms.MotionSenseError):
        ms.Decoder(ms.FROM_APP).feed(ms.reader_apdu(b"\x00\xa4\x04\x00"))
    with pytest.raises(ms.MotionSenseError):
        ms.Decoder(ms.FROM_READER).feed(ms.app_response(b"\x90\x00"))


def test_a_bad_header_is_refused_before_its_payload_arrives() -> None:
    decoder = ms.Decoder(ms.FROM_APP)
    with pytest.raises(ms.MotionSenseError):
        decoder.feed(b"\x02\xff\xff")  # 65535 bytes announced: refused at once
    assert decoder.pending == 0


def test_any_fragmentation_reassembles() -> None:
    stream = ms.app_response(b"\x01" * 200 + b"\x90\x00") + ms.abort(ms.ABORT_PROTOCOL)
    for size in (1, 2, 3, 20, 500):
        decoder = ms.Decoder(ms.FROM_APP)
        got: list[ms.Message] = []
        for i in range(0, len(stream), size):
            got += decoder.feed(stream[i : i + size])
        assert [m.type for m in got] == [ms.APP_RESPONSE, ms.ABORT]
        assert got[0].payload.endswith(b"\x90\x00") and decoder.pending == 0


def test_the_error_is_an_aliro_error_so_the_apdu_loop_denies() -> None:
    assert issubclass(ms.MotionSenseError, AliroError)


class Pipe:
    """Reader -> framed bytes -> app endpoint -> framed bytes -> reader."""

    def __init__(self, endpoint: ms.AppEndpoint) -> None:
        self.endpoint = endpoint
        self.decoder = ms.Decoder(ms.FROM_APP)

    def transceive(self, command: bytes) -> bytes:
        (message,) = self.decoder.feed(self.endpoint.receive(ms.reader_apdu(command)))
        return message.payload


def test_the_aliro_exchange_runs_over_the_framing_with_interface_c3() -> None:
    group_key = ec.generate_private_key(ec.SECP256R1())
    identity = ReaderIdentity.with_key(b"G" * 16, b"S" * 16, group_key)
    app_key = ec.generate_private_key(ec.SECP256R1())
    applet = DeviceApplet(
        app_key,
        reader_groups={b"G" * 16: identity.group_public_key},
        persistent_keys={},
        interface=c.INTERFACE_BLE,
    )
    endpoint = ms.AppEndpoint(applet)
    tx = ReaderTransaction(
        identity, lookup=KnownEndpoint, fast_candidates=list, interface=c.INTERFACE_BLE
    )
    outcome = run_transaction(tx, Pipe(endpoint))
    assert outcome.authenticated and outcome.endpoint_public_key == crypto.public_bytes(app_key)
    assert applet.granted
    assert not endpoint.done  # the reader's DECISION comes after EXCHANGE
    assert endpoint.receive(ms.Decision(True, "granted", "standard").message().encode()) == b""
    assert endpoint.done and endpoint.decision == ms.Decision(True, "granted", "standard")
    with pytest.raises(ms.MotionSenseError):
        endpoint.receive(ms.reader_apdu(b"\x00\xa4\x04\x00"))  # nothing after the end


@FUZZ
@given(data=st.binary(max_size=600), accept=st.sampled_from([ms.FROM_APP, ms.FROM_READER]))
def test_decoders_raise_only_motionsense_errors(data: bytes, accept: frozenset[int]) -> None:
    decoder = ms.Decoder(accept)
    with contextlib.suppress(ms.MotionSenseError):
        for message in decoder.feed(data):
            assert message.type in accept
            low, high = ms.BOUNDS[message.type]
            assert low <= len(message.payload) <= high


class Refuser:
    """An applet that must never be reached by malformed framing."""

    def __init__(self) -> None:
        self.commands: list[bytes] = []

    def process(self, command: bytes) -> bytes:
        self.commands.append(command)
        return b"\x6d\x00"


@FUZZ
@given(chunks=st.lists(st.binary(max_size=300), max_size=5))
def test_the_app_endpoint_raises_only_motionsense_errors(chunks: list[bytes]) -> None:
    applet = Refuser()
    endpoint = ms.AppEndpoint(applet)
    try:
        for chunk in chunks:
            out = endpoint.receive(chunk)
            decoder = ms.Decoder(ms.FROM_APP)
            assert len(decoder.feed(out)) <= len(applet.commands)
    except ms.MotionSenseError:
        return
    for command in applet.commands:
        assert 4 <= len(command) <= ms.MAX_COMMAND


@FUZZ
@given(
    granted=st.booleans(),
    reason=st.from_regex(r"[a-z_]{1,48}", fullmatch=True),
    flow=st.sampled_from([None, "standard", "fast"]),
)
def test_decisions_round_trip(granted: bool, reason: str, flow: str | None) -> None:
    decision = ms.Decision(granted, reason, flow)
    (message,) = ms.Decoder(ms.FROM_READER).feed(decision.message().encode())
    assert ms.Decision.parse(message.payload) == decision
