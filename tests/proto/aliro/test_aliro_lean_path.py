"""The reader's lean path: answers cut by position, prepared encodings, FAST candidates.

Every known layout is cut by position; each test here holds the cut to what the general
TLV parser reads from the same bytes, and a truncated or malformed answer to the deny the
reader specifies (``protocol_error`` or ``status_word``), never an exception.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.proto.aliro.aliro_support import Cache, Tool, fixed_key, tap, vector_device

from passgate.proto.aliro import (
    DeviceApplet,
    InMemory,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    TransactionResult,
    crypto,
    issue,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro import reader as reader_module
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import Auth0Response, Auth1Response, CredentialStatus
from passgate.proto.aliro.runner import run_until_result
from passgate.proto.apdu import CommandApdu

OK = b"\x90\x00"
POINT = crypto.public_bytes(fixed_key(7))
CRYPTOGRAM = bytes(range(64))
SIGNATURE = bytes(range(64, 128))
DATES = (bytes(range(20)), bytes(range(20, 40)))
LAYOUT = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _general_auth0(data: bytes) -> tuple[bytes, bytes | None, bytes | None] | None:
    try:
        answer = Auth0Response.parse(data)
    except AliroError:
        return None
    return answer.device_ephemeral, answer.cryptogram, answer.extension


def _lean_auth0(data: bytes) -> tuple[bytes, bytes | None, bytes | None] | None:
    try:
        return reader_module._auth0_answer(data)
    except AliroError:
        return None


def _general_auth1(data: bytes) -> Auth1Response | None:
    try:
        return Auth1Response.parse(data)
    except AliroError:
        return None


def _lean_auth1(data: bytes) -> Auth1Response | None:
    try:
        return reader_module._auth1_answer(data)
    except AliroError:
        return None


AUTH0_FAST = Auth0Response(POINT, CRYPTOGRAM).encode()
AUTH0_STANDARD = Auth0Response(POINT, None).encode()
AUTH1_PLAIN = Auth1Response(SIGNATURE, CredentialStatus(b"\x00\x3f"), POINT).encode()
AUTH1_DATED = Auth1Response(SIGNATURE, CredentialStatus(b"\x00\x01", *DATES), POINT).encode()


def test_the_known_layouts_are_cut_as_the_parser_reads_them() -> None:
    assert len(AUTH0_FAST) == 133 and len(AUTH0_STANDARD) == 67
    assert _lean_auth0(AUTH0_FAST) == _general_auth0(AUTH0_FAST) == (POINT, CRYPTOGRAM, None)
    assert _lean_auth0(AUTH0_STANDARD) == (POINT, None, None)
    assert len(AUTH1_PLAIN) == 137 and len(AUTH1_DATED) == 181
    assert _lean_auth1(AUTH1_PLAIN) == _general_auth1(AUTH1_PLAIN)
    assert _lean_auth1(AUTH1_DATED) == _general_auth1(AUTH1_DATED)
    dated = _lean_auth1(AUTH1_DATED)
    assert dated is not None and dated.status == CredentialStatus(b"\x00\x01", *DATES)


@LAYOUT
@given(
    base=st.sampled_from([AUTH0_FAST, AUTH0_STANDARD]),
    pos=st.integers(0, 132),
    value=st.integers(0, 255),
    cut=st.integers(0, 140),
)
def test_any_changed_or_cut_auth0_answer_reads_as_the_parser_reads_it(
    base: bytes, pos: int, value: int, cut: int
) -> None:
    changed = bytearray(base)
    if pos < len(changed):
        changed[pos] = value
    data = bytes(changed[:cut])
    assert _lean_auth0(data) == _general_auth0(data)


@LAYOUT
@given(
    base=st.sampled_from([AUTH1_PLAIN, AUTH1_DATED]),
    pos=st.integers(0, 180),
    value=st.integers(0, 255),
    cut=st.integers(0, 190),
)
def test_any_changed_or_cut_auth1_answer_reads_as_the_parser_reads_it(
    base: bytes, pos: int, value: int, cut: int
) -> None:
    changed = bytearray(base)
    if pos < len(changed):
        changed[pos] = value
    data = bytes(changed[:cut])
    assert _lean_auth1(data) == _general_auth1(data)


def _answers(applet: DeviceApplet, identity: ReaderIdentity, fast: bool) -> list[bytes]:
    cache = Cache()
    cache.add(applet.public_key)
    if fast:
        tap(cache, identity, applet)
    transcript: list[tuple[bytes, bytes]] = []
    result = run_transaction(
        cache.transaction(identity, prefer_fast=fast), InMemory(applet, transcript)
    )
    assert result.authenticated and result.flow == ("fast" if fast else "standard")
    return [answer for _, answer in transcript]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
@pytest.mark.parametrize("step", [0, 1, 2])
@pytest.mark.parametrize("cut", [0, 1, 2, 3, 20, 65])  # 66 would leave a whole 86 TLV
def test_truncated_answers_at_every_step_are_denied(
    identity: ReaderIdentity, fast: bool, step: int, cut: int
) -> None:
    applet = vector_device()
    cache = Cache()
    cache.add(applet.public_key)
    if fast:
        tap(cache, identity, applet)
    tx = cache.transaction(identity, prefer_fast=fast)
    command: CommandApdu | TransactionResult = tx.start()
    for index in range(step + 1):
        if not isinstance(command, CommandApdu):
            return  # FAST ends after AUTH0: nothing more to cut
        answer = applet.process(command.wire)
        if index == step:
            answer = answer[: max(0, len(answer) - 2 - cut)] + (OK if cut > 2 else b"")
        command = tx.receive(answer)
    assert isinstance(command, TransactionResult)
    assert not command.authenticated
    assert command.error in ("protocol_error", "status_word")
    closing = tx.finish(False)
    assert closing.ins in (c.INS_CONTROL_FLOW, c.INS_EXCHANGE)


@pytest.mark.parametrize("answer", [b"", b"\x90", b"\x61"])
def test_an_answer_shorter_than_a_status_word_is_denied_not_raised(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache, answer: bytes
) -> None:
    def broken(command: bytes, response: bytes) -> bytes:
        return answer if command[1] == c.INS_AUTH0 else response

    result = run_until_result(cache.transaction(identity), Tool(applet, response=broken))
    assert not result.authenticated and result.error == "protocol_error"


def test_a_broken_get_response_is_denied(identity: ReaderIdentity, cache: Cache) -> None:
    applet = vector_device()

    class Split:
        """Answers AUTH0 in two parts, the second one cut below its status word."""

        def transceive(self, command: bytes) -> bytes:
            if command[1] == c.INS_GET_RESPONSE:
                return b"\x90"
            answer = applet.process(command)
            if command[1] == c.INS_AUTH0:
                return answer[:10] + b"\x61\x00"
            return answer

    result = run_until_result(cache.transaction(identity), Split())
    assert not result.authenticated and result.error == "protocol_error"


def test_status_word_other_than_9000_is_denied(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    def refuse(command: bytes, response: bytes) -> bytes:
        return response[:-2] + b"\x69\x85" if command[1] == c.INS_AUTH0 else response

    result = run_until_result(cache.transaction(identity), Tool(applet, response=refuse))
    assert not result.authenticated and result.error == "status_word"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "standard"])
@pytest.mark.parametrize("mode", ["none", "auth1", "load"])
def test_prepared_encodings_are_the_apdu_encodings(fast: bool, mode: str) -> None:
    group_key = fixed_key(0x6A6A)
    own = fixed_key(0x5151)
    certificate = None
    if mode != "none":
        now = datetime.now(UTC)
        certificate = issue(
            group_key,
            serial=3,
            subject="rdr",
            public_key=crypto.public_bytes(own),
            not_before=now - timedelta(minutes=1),
            not_after=now + timedelta(days=1),
        ).encode()
    group = os.urandom(16)
    identity = ReaderIdentity.with_key(
        group,
        os.urandom(16),
        own if certificate else group_key,
        group_public_key=crypto.public_bytes(group_key),
        certificate=certificate,
    )
    applet = DeviceApplet(
        fixed_key(0xD0D0),
        reader_groups={group: crypto.public_bytes(group_key)},
        persistent_keys={},
    )
    cache = Cache()
    cache.add(applet.public_key)
    if fast:
        tap(cache, identity, applet, certificate_mode=None if mode == "none" else mode)
    tx = cache.transaction(
        identity, prefer_fast=fast, certificate_mode=None if mode == "none" else mode
    )
    command: CommandApdu | TransactionResult = tx.start()
    sent = []
    while isinstance(command, CommandApdu):
        assert command.wire == command.encode()
        assert CommandApdu.parse(command.wire) == command
        sent.append(command.ins)
        command = tx.receive(applet.process(command.wire))
    assert command.authenticated
    closing = tx.finish(True)
    assert closing.wire == closing.encode() and CommandApdu.parse(closing.wire) == closing
    assert applet.process(closing.wire).endswith(OK) and applet.granted
    expected = [c.INS_SELECT, c.INS_AUTH0]
    if not fast:
        expected += [c.INS_LOAD_CERTIFICATE] if mode == "load" else []
        expected += [c.INS_AUTH1]
    assert sent == expected


@pytest.mark.parametrize("position", [0, 1, 5, 39])
def test_fast_finds_the_tapping_key_among_many(identity: ReaderIdentity, position: int) -> None:
    applet = vector_device()
    cache = Cache()
    cache.add(applet.public_key)
    assert tap(cache, identity, applet).flow == "standard"
    learned = cache.endpoints.pop(applet.public_key)
    decoys = [
        KnownEndpoint(crypto.public_bytes(fixed_key(1000 + i)), os.urandom(32)) for i in range(40)
    ]
    ordered = [*decoys[:position], learned, *decoys[position:]]
    tx = ReaderTransaction(identity, lookup=cache.lookup, fast_candidates=lambda: iter(ordered))
    result = run_transaction(tx, InMemory(applet))
    assert result.authenticated and result.flow == "fast"
    assert result.endpoint_public_key == applet.public_key
    assert applet.granted


def test_fast_with_no_matching_key_falls_back_to_standard(identity: ReaderIdentity) -> None:
    applet = vector_device()
    cache = Cache()
    cache.add(applet.public_key)
    assert tap(cache, identity, applet).flow == "standard"
    cache.add(applet.public_key, os.urandom(32))  # the reader's key no longer matches
    for i in range(5):
        cache.add(crypto.public_bytes(fixed_key(2000 + i)), os.urandom(32))
    result = run_transaction(cache.transaction(identity), InMemory(applet))
    assert result.authenticated and result.flow == "standard"
    assert result.new_persistent_key is not None
