"""Two peers in memory: STANDARD, FAST, certificates, chaining, refusals, replays."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from tests.proto.aliro.aliro_support import (
    GROUP,
    READER_KEY,
    STANDARD,
    SUB,
    Cache,
    Tool,
    fixed_key,
    h,
    tap,
    vector_device,
)

from passgate.proto.aliro import (
    AliroError,
    DeviceApplet,
    InMemory,
    ReaderIdentity,
    ReplayDevice,
    Transcript,
    crypto,
    issue,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.messages import ControlFlow, build_fci, parse_fci
from passgate.proto.apdu import CommandApdu, ResponseApdu
from passgate.proto.tlv import decode_all

NOW = datetime.now(UTC)
OWN_KEY = fixed_key(0x5EED)  # a reader's own key, certified by the group key


def ins_of(transcript: Transcript) -> list[int]:
    return [CommandApdu.parse(cmd).ins for cmd, _ in transcript]


def certified_identity(**cert: object) -> ReaderIdentity:
    fields: dict[str, object] = {
        "serial": 7,
        "issuer": "Acme readers",
        "subject": "Front door",
        "public_key": crypto.public_bytes(OWN_KEY),
        "not_before": NOW - timedelta(days=1),
        "not_after": NOW + timedelta(days=365),
    }
    fields.update(cert)
    certificate = issue(READER_KEY, **fields).encode()  # type: ignore[arg-type]
    return ReaderIdentity(
        GROUP, SUB, h("reader_public_key"), crypto.key_signer(OWN_KEY), certificate
    )


# --- happy paths ------------------------------------------------------------------------


def test_standard_then_fast(identity: ReaderIdentity, applet: DeviceApplet, cache: Cache) -> None:
    transcript: Transcript = []
    first = tap(cache, identity, applet, transcript=transcript)
    assert first.authenticated and first.flow == "standard"
    assert ins_of(transcript) == [c.INS_SELECT, c.INS_AUTH0, c.INS_AUTH1, c.INS_EXCHANGE]
    assert applet.granted and applet.last_outcome == c.READER_STATUS_GRANTED
    transcript.clear()
    second = tap(cache, identity, applet, transcript=transcript)
    assert second.authenticated and second.flow == "fast"
    assert ins_of(transcript) == [c.INS_SELECT, c.INS_AUTH0, c.INS_EXCHANGE]
    assert applet.granted


def test_both_sides_hold_the_same_persistent_key(identity: ReaderIdentity, cache: Cache) -> None:
    store: dict[bytes, bytes] = {}
    applet = vector_device(persistent_keys=store)
    cache.add(applet.public_key)
    result = tap(cache, identity, applet)
    assert store == {GROUP: result.new_persistent_key}


def test_fast_falls_back_to_standard_when_reader_lost_the_key(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    tap(cache, identity, applet)
    cache.add(applet.public_key)  # reader forgot the persistent key
    again = tap(cache, identity, applet)
    assert again.authenticated and again.flow == "standard"


def test_prefer_fast_off_sends_no_cryptogram(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    tap(cache, identity, applet)
    transcript: Transcript = []
    result = tap(cache, identity, applet, transcript=transcript, prefer_fast=False)
    assert result.flow == "standard"
    auth0_answer = ResponseApdu.parse(transcript[1][1]).data
    assert [t.tag for t in decode_all(auth0_answer)] == [c.TAG_DEVICE_EPHEMERAL_KEY]


def test_stranger_reader_gets_bogus_but_well_formed_cryptogram(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    transcript: Transcript = []
    result = tap(cache, identity, applet, transcript=transcript)
    assert result.flow == "standard"  # no persistent key yet: the 9D opened nothing
    auth0_answer = ResponseApdu.parse(transcript[1][1]).data
    tags = {t.tag: t.value for t in decode_all(auth0_answer)}
    assert len(tags[c.TAG_CRYPTOGRAM]) == c.CRYPTOGRAM_LEN


def test_key_slot_answer(identity: ReaderIdentity, applet: DeviceApplet, cache: Cache) -> None:
    result = tap(cache, identity, applet, lookup_slot=cache.lookup_slot)
    assert result.authenticated and result.endpoint_public_key == applet.public_key
    assert crypto.key_slot(applet.public_key) == hashlib.sha1(applet.public_key).digest()[:8]


@pytest.mark.parametrize("mode", ["load", "auth1"])
def test_reader_certificate(mode: str, applet: DeviceApplet, cache: Cache) -> None:
    transcript: Transcript = []
    identity = certified_identity()
    result = tap(cache, identity, applet, transcript=transcript, certificate_mode=mode)
    assert result.authenticated and result.flow == "standard"
    if mode == "load":
        assert c.INS_LOAD_CERTIFICATE in ins_of(transcript)
    else:
        # The certificate makes AUTH1 longer than one short APDU: command chaining.
        chained = [CommandApdu.parse(cmd) for cmd, _ in transcript]
        assert any(a.cla == c.CLA_PROPRIETARY | c.CLA_CHAINING for a in chained)


def test_certificate_with_extended_length_device_needs_no_chaining(cache: Cache) -> None:
    applet = vector_device(extended_length=(1024, 1024))
    cache.add(applet.public_key)
    transcript: Transcript = []
    result = tap(
        cache, certified_identity(), applet, transcript=transcript, certificate_mode="auth1"
    )
    assert result.authenticated
    assert all(not CommandApdu.parse(cmd).cla & c.CLA_CHAINING for cmd, _ in transcript)


def test_fci_extended_length_information() -> None:
    fci = parse_fci(build_fci([c.VERSION_1_0], (1024, 0x8000)))
    assert (fci.max_command, fci.max_response) == (1024, 0x8000)
    with pytest.raises(AliroError):
        parse_fci(bytes.fromhex("6f1a8409a000000909acce5501a50d800200005c0201007f66020000"))


def test_version_0009_is_accepted_and_0100_preferred(cache: Cache) -> None:
    old = vector_device(versions=(c.VERSION_0_9,))
    cache.add(old.public_key)
    transcript: Transcript = []
    assert tap(
        cache, ReaderIdentity.with_key(GROUP, SUB, READER_KEY), old, transcript=transcript
    ).authenticated
    auth0 = {t.tag: t.value for t in decode_all(CommandApdu.parse(transcript[1][0]).data)}
    assert auth0[c.TAG_VERSIONS] == b"\x00\x09"
    both = vector_device(versions=(c.VERSION_0_9, c.VERSION_1_0))
    cache.add(both.public_key)
    transcript.clear()
    tap(cache, ReaderIdentity.with_key(GROUP, SUB, READER_KEY), both, transcript=transcript)
    auth0 = {t.tag: t.value for t in decode_all(CommandApdu.parse(transcript[1][0]).data)}
    assert auth0[c.TAG_VERSIONS] == b"\x01\x00"


def test_long_answer_is_fetched_with_get_response(identity: ReaderIdentity, cache: Cache) -> None:
    applet = vector_device(issued_at=b"2026-01-01T00:00:00Z", expires_at=b"2027-01-01T00:00:00Z")
    cache.add(applet.public_key)
    select = CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 16).encode()
    first = applet.process(select)
    assert first[-2] == 0x61 and len(first) == 18
    rest = applet.process(CommandApdu(0, c.INS_GET_RESPONSE, 0, 0, b"", first[-1]).encode())
    assert first[:-2] + rest[:-2] == applet.fci and rest[-2:] == b"\x90\x00"
    result = tap(cache, identity, applet)
    assert result.status is not None and result.status.issued_at == b"2026-01-01T00:00:00Z"


# --- refusals ---------------------------------------------------------------------------


def test_no_common_version_is_closed_with_control_flow_s2_27(
    identity: ReaderIdentity, cache: Cache
) -> None:
    future = vector_device(versions=(0x0200,))
    link = Tool(future)
    result = run_transaction(cache.transaction(identity), link)
    assert not result.authenticated and result.error == "unsupported_version"
    close = link.closing()
    assert close.ins == c.INS_CONTROL_FLOW
    assert ControlFlow.parse(close.data) == ControlFlow(0x00, 0x27)


def test_wrong_reader_signature_gets_6982_and_control_flow(
    applet: DeviceApplet, cache: Cache
) -> None:
    impostor = ReaderIdentity(GROUP, SUB, h("reader_public_key"), crypto.key_signer(fixed_key(9)))
    link = Tool(applet)
    result = run_transaction(cache.transaction(impostor), link)
    assert not result.authenticated and result.error == "status_word"
    assert link.seen[2][1] == b"\x69\x82"
    assert link.closing().ins == c.INS_CONTROL_FLOW
    assert applet.last_outcome is None


def test_certificate_from_another_issuer_is_refused(applet: DeviceApplet, cache: Cache) -> None:
    rogue = issue(
        fixed_key(77),
        serial=1,
        issuer="Acme readers",
        subject="x",
        public_key=crypto.public_bytes(OWN_KEY),
        not_before=NOW - timedelta(days=1),
        not_after=NOW + timedelta(days=1),
    ).encode()
    identity = ReaderIdentity(GROUP, SUB, h("reader_public_key"), crypto.key_signer(OWN_KEY), rogue)
    for mode in ("load", "auth1"):
        link = Tool(applet)
        result = run_transaction(cache.transaction(identity, certificate_mode=mode), link)
        assert not result.authenticated
        assert b"\x69\x82" in [rsp for _, rsp in link.seen]


def test_expired_certificate_is_refused(applet: DeviceApplet, cache: Cache) -> None:
    identity = certified_identity(
        not_before=NOW - timedelta(days=30), not_after=NOW - timedelta(days=1)
    )
    result = run_transaction(cache.transaction(identity), InMemory(applet))
    assert not result.authenticated and result.error == "status_word"


def test_unknown_group_is_refused_at_auth1(cache: Cache) -> None:
    device = vector_device(reader_groups={bytes(16): h("reader_public_key")})
    cache.add(device.public_key)
    result = run_transaction(
        cache.transaction(ReaderIdentity.with_key(GROUP, SUB, READER_KEY)), InMemory(device)
    )
    assert not result.authenticated and result.error == "status_word"


def test_unknown_credential_is_closed_with_exchange_0001(
    identity: ReaderIdentity, applet: DeviceApplet
) -> None:
    empty = Cache()
    result = run_transaction(empty.transaction(identity), InMemory(applet))
    assert not result.authenticated and result.error == "unknown_endpoint"
    assert result.endpoint_public_key == applet.public_key
    assert applet.last_outcome == c.READER_STATUS_UNKNOWN_KEY


def test_unknown_key_slot_is_closed_with_exchange_0021(
    identity: ReaderIdentity, applet: DeviceApplet
) -> None:
    empty = Cache()
    result = run_transaction(
        empty.transaction(identity, lookup_slot=empty.lookup_slot), InMemory(applet)
    )
    assert result.error == "unknown_key_slot"
    assert applet.last_outcome == c.READER_STATUS_NO_KEY_SLOT


def test_denied_by_the_access_rules_is_closed_with_exchange_0025(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    result = tap(cache, identity, applet, decide=lambda _: False)
    assert result.authenticated
    assert applet.last_outcome == c.READER_STATUS_DENIED and not applet.granted


def test_device_claiming_someone_elses_key_fails_with_exchange_0004(
    identity: ReaderIdentity,
) -> None:
    # The device signs with its own key but announces another credential's public key.
    victim = crypto.public_bytes(fixed_key(0xBEEF))
    cache = Cache()
    cache.add(victim)
    liar = vector_device()
    liar._public = victim
    result = run_transaction(cache.transaction(identity), InMemory(liar))
    assert not result.authenticated and result.error == "bad_signature"
    assert liar.last_outcome == c.READER_STATUS_BAD_SIGNATURE


@pytest.mark.parametrize(
    ("tag", "value", "sw"),
    [
        (0x42, b"\x00", 0x6701),  # no such authentication policy
        (0x42, b"\x04", 0x6701),
        (0x41, b"\x02", 0x6701),  # no such transaction flag
        (0x4C, b"\x01" * 15, 0x6701),  # transaction identifier too short
        (0x5C, b"\x02\x00", 0x6985),  # a version the device did not offer
    ],
)
def test_device_refuses_bad_auth0_fields(
    applet: DeviceApplet, tag: int, value: bytes, sw: int
) -> None:
    applet.process(CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode())
    fields = decode_all(h("auth0_command_apdu", STANDARD)[5:-1])
    body = b"".join(
        (bytes([t.tag, len(value)]) + value) if t.tag == tag else t.encode() for t in fields
    )
    answer = applet.process(CommandApdu(0x80, c.INS_AUTH0, 0, 0, body, 256).encode())
    assert ResponseApdu.parse(answer).sw == sw
    # Refused: the transaction is gone and AUTH1 is out of state.
    again = applet.process(CommandApdu(0x80, c.INS_AUTH1, 0, 0, b"\x41\x01\x01", 256).encode())
    assert again == b"\x6d\x00"


def test_auth0_with_duplicated_tag_is_refused(applet: DeviceApplet) -> None:
    applet.process(CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode())
    data = h("auth0_command_apdu", STANDARD)[5:-1]
    answer = applet.process(
        CommandApdu(0x80, c.INS_AUTH0, 0, 0, b"\x41\x01\x00" + data, 256).encode()
    )
    assert answer == b"\x67\x01"


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        ("00a404", 0x6700),  # truncated header
        ("00a4040009a000000909acce55", 0x6700),  # Lc longer than the data
        ("00a4040009a000000909acce550200", 0x6A82),  # step-up AID is not offered
        ("00a4000009a000000909acce550100", 0x6A86),  # SELECT by something else than name
        ("84800000", 0x6E00),  # unknown class
        ("80ff0000", 0x6D00),  # unknown instruction
        ("80800000", 0x6D00),  # AUTH0 before SELECT
        ("80810000", 0x6D00),  # AUTH1 before AUTH0
        ("80c90000", 0x6D00),  # EXCHANGE without a channel
        ("80800102", 0x6A86),  # AUTH0 with P1 P2 other than 00 00
        ("00c00000", 0x6985),  # GET RESPONSE with nothing pending
        ("00c3000000", 0x6D00),  # ENVELOPE: no step-up phase
    ],
)
def test_device_status_words(applet: DeviceApplet, command: str, sw: int) -> None:
    assert ResponseApdu.parse(applet.process(bytes.fromhex(command))).sw == sw


def test_truncated_device_answers_are_denied(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    for cut in range(1, 40, 7):

        def truncate(command: bytes, response: bytes, cut: int = cut) -> bytes:
            if command[1] == c.INS_AUTH0:
                return response[: max(0, len(response) - 2 - cut)] + b"\x90\x00"
            return response

        result = run_transaction(cache.transaction(identity), Tool(applet, response=truncate))
        assert not result.authenticated and result.error == "protocol_error"


# --- replay -----------------------------------------------------------------------------


def test_replayed_device_answers_never_authenticate(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    transcript: Transcript = []
    tap(cache, identity, applet, transcript=transcript)  # STANDARD
    tap(cache, identity, applet, transcript=(fast := Transcript()))  # FAST
    for recorded in (transcript, fast):
        replay = ReplayDevice([rsp for _, rsp in recorded])
        result = run_transaction(cache.transaction(identity), InMemory(replay))
        assert not result.authenticated


def test_replayed_reader_commands_are_refused_by_the_device(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    transcript: Transcript = []
    tap(cache, identity, applet, transcript=transcript, prefer_fast=False)
    answers = [applet.process(cmd) for cmd, _ in transcript]
    assert answers[0].endswith(b"\x90\x00") and answers[1].endswith(b"\x90\x00")
    # AUTH1 carries the signature over the old ephemeral keys: refused.
    assert answers[2] == b"\x69\x82"
    assert applet.last_outcome is None


def test_flipping_the_fast_flag_in_transit_breaks_the_keys(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    def flip(command: bytes) -> bytes:
        if command[1] == c.INS_AUTH0:
            return command.replace(b"\x41\x01\x01", b"\x41\x01\x00", 1)
        return command

    result = run_transaction(cache.transaction(identity), Tool(applet, command=flip))
    assert not result.authenticated  # the salt differs: the AUTH1 answer does not open


def test_policy_reaches_the_derivation(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    transcript: Transcript = []
    result = tap(cache, identity, applet, transcript=transcript, policy=c.POLICY_SECURE_ACTION)
    assert result.authenticated
    auth0 = {t.tag: t.value for t in decode_all(CommandApdu.parse(transcript[1][0]).data)}
    assert auth0[c.TAG_AUTH_POLICY] == b"\x02"


# --- misuse of the state machines -------------------------------------------------------


def test_reader_state_machine_misuse(identity: ReaderIdentity, cache: Cache) -> None:
    tx = cache.transaction(identity)
    with pytest.raises(AliroError):
        tx.finish(False)
    tx.start()
    with pytest.raises(AliroError):
        tx.start()
    result = tx.receive(b"\x6a\x82")
    assert not isinstance(result, CommandApdu) and result.error == "status_word"
    with pytest.raises(AliroError):
        tx.finish(True)  # never grant what did not authenticate
    assert tx.finish(False).ins == c.INS_CONTROL_FLOW
    with pytest.raises(AliroError):
        tx.finish(False)


def test_reader_identity_validation() -> None:
    with pytest.raises(AliroError):
        ReaderIdentity.with_key(b"short", SUB, READER_KEY)
    with pytest.raises(AliroError):
        ReaderIdentity.with_key(GROUP, b"short", READER_KEY)
    with pytest.raises(AliroError):
        ReaderIdentity(GROUP, SUB, b"\x04" + bytes(64), crypto.key_signer(READER_KEY))


def test_the_interface_byte_binds_the_keys(identity: ReaderIdentity, cache: Cache) -> None:
    ble = vector_device(interface=c.INTERFACE_BLE)
    cache.add(ble.public_key)
    assert tap(cache, identity, ble, interface=c.INTERFACE_BLE).authenticated
    # An NFC reader and a BLE device derive different keys: the AUTH1 answer does not open.
    result = run_transaction(cache.transaction(identity, prefer_fast=False), InMemory(ble))
    assert not result.authenticated and result.error == "protocol_error"
    with pytest.raises(AliroError):
        vector_device(interface=0x00)


def test_an_unfinished_chain_never_blocks_the_next_select(applet: DeviceApplet) -> None:
    # A reader restarted while sending a chained LOAD CERTIFICATE: the next SELECT works.
    select = CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode()
    assert applet.process(select).endswith(b"\x90\x00")
    part = CommandApdu(0x90, c.INS_LOAD_CERTIFICATE, 0, 0, bytes(200)).encode()
    assert applet.process(part) == b"\x90\x00"
    assert applet.process(select).endswith(b"\x90\x00")
