"""Two peers in memory: STANDARD, FAST, fallbacks, refusals, replays."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.proto.aliro.aliro_support import GROUP, INSTANCE, Cache, fixed_key

from passgate.proto.aliro import (
    AliroError,
    DeviceApplet,
    ReaderIdentity,
    ReplayDevice,
    TransactionResult,
    Transcript,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.messages import Auth0Response
from passgate.proto.apdu import CommandApdu, ResponseApdu
from passgate.proto.tlv import decode_all, encode_many


def ins_of(transcript: Transcript) -> list[int]:
    return [CommandApdu.parse(cmd).ins for cmd, _ in transcript]


def first_tap(identity: ReaderIdentity, applet: DeviceApplet, cache: Cache) -> TransactionResult:
    result = run_transaction(cache.transaction(identity), applet)
    assert result.authenticated and result.flow == "standard"
    assert result.new_persistent_key is not None
    cache.add(applet.public_key, result.new_persistent_key)
    return result


class Middle:
    """Forwards APDUs to a device, letting a test rewrite one command or response."""

    def __init__(
        self,
        device: DeviceApplet,
        *,
        command: Callable[[bytes], bytes] = lambda b: b,
        response: Callable[[bytes, bytes], bytes] = lambda cmd, rsp: rsp,
    ) -> None:
        self.device, self.command, self.response = device, command, response

    def process(self, command: bytes) -> bytes:
        command = self.command(command)
        return self.response(command, self.device.process(command))


def test_standard_then_fast(identity: ReaderIdentity, applet: DeviceApplet, cache: Cache) -> None:
    transcript: Transcript = []
    result = run_transaction(cache.transaction(identity), applet, transcript=transcript)
    assert result == TransactionResult(
        True, "standard", applet.public_key, result.new_persistent_key, None
    )
    assert ins_of(transcript) == [c.INS_SELECT, c.INS_AUTH0, c.INS_AUTH1, c.INS_CONTROL_FLOW]
    assert all(ResponseApdu.parse(rsp).ok for _, rsp in transcript)
    assert applet.last_outcome is True
    cache.add(applet.public_key, result.new_persistent_key)

    transcript = []
    second = run_transaction(cache.transaction(identity), applet, transcript=transcript)
    assert second == TransactionResult(True, "fast", applet.public_key, None, None)
    assert ins_of(transcript) == [c.INS_SELECT, c.INS_AUTH0, c.INS_CONTROL_FLOW]
    assert applet.last_outcome is True


def test_device_and_reader_hold_the_same_persistent_key(
    identity: ReaderIdentity, device_key: ec.EllipticCurvePrivateKey, cache: Cache
) -> None:
    store: dict[bytes, bytes] = {}
    applet = DeviceApplet(device_key, persistent_keys=store)
    result = first_tap(identity, applet, cache)
    assert store == {GROUP: result.new_persistent_key}


def test_fast_falls_back_when_reader_lacks_persistent_key(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    first_tap(identity, applet, cache)
    fresh = Cache()  # another reader of the group whose cache has no persistent key yet
    fresh.add(applet.public_key)
    transcript: Transcript = []
    result = run_transaction(fresh.transaction(identity), applet, transcript=transcript)
    assert result.authenticated and result.flow == "standard"
    assert c.INS_AUTH1 in ins_of(transcript)


def test_stale_persistent_key_falls_back_to_standard(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    first_tap(identity, applet, cache)
    cache.add(applet.public_key, bytes(32))  # wrong key in the cache
    result = run_transaction(cache.transaction(identity), applet)
    assert result.authenticated and result.flow == "standard"


def test_prefer_fast_off_skips_cryptogram(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    first_tap(identity, applet, cache)
    transcript: Transcript = []
    tx = cache.transaction(identity, prefer_fast=False)
    result = run_transaction(tx, applet, transcript=transcript)
    assert result.flow == "standard"
    auth0 = Auth0Response.parse(ResponseApdu.parse(transcript[1][1]).data)
    assert auth0.cryptogram is None


def test_stranger_gets_bogus_but_well_formed_cryptogram(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    seen = []
    for _ in range(2):
        transcript: Transcript = []
        run_transaction(Cache().transaction(identity), applet, transcript=transcript)
        seen.append(Auth0Response.parse(ResponseApdu.parse(transcript[1][1]).data).cryptogram)
    assert all(x is not None and len(x) == c.CRYPTOGRAM_LEN for x in seen)
    assert seen[0] != seen[1]


def test_other_reader_group_does_not_get_fast(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    first_tap(identity, applet, cache)
    other = ReaderIdentity(b"\x42" * 16, INSTANCE, identity.private_key)
    result = run_transaction(cache.transaction(other), applet)
    assert result.flow == "standard"


def test_unknown_endpoint_is_not_authenticated(
    identity: ReaderIdentity, applet: DeviceApplet
) -> None:
    result = run_transaction(Cache().transaction(identity), applet)
    assert not result.authenticated
    assert result.error == "unknown_endpoint"
    assert result.endpoint_public_key == applet.public_key  # for the event log
    assert result.new_persistent_key is None
    assert applet.last_outcome is False


def test_device_with_other_key_than_expected_fails(identity: ReaderIdentity) -> None:
    expected = DeviceApplet(fixed_key(1234), persistent_keys={})
    cache = Cache()
    cache.add(expected.public_key)
    impostor = DeviceApplet(fixed_key(5678), persistent_keys={})
    result = run_transaction(cache.transaction(identity), impostor)
    assert (result.authenticated, result.error) == (False, "unknown_endpoint")


def test_device_claiming_someone_elses_key_fails_signature(identity: ReaderIdentity) -> None:
    victim = DeviceApplet(fixed_key(1234), persistent_keys={})
    cache = Cache()
    cache.add(victim.public_key)
    liar = DeviceApplet(fixed_key(5678), persistent_keys={})
    liar._public = victim.public_key  # presents the victim's key, signs with its own
    result = run_transaction(cache.transaction(identity), liar)
    assert (result.authenticated, result.error) == (False, "bad_signature")
    assert result.endpoint_public_key is None


def test_untrusted_reader_key_is_refused(
    identity: ReaderIdentity, device_key: ec.EllipticCurvePrivateKey, cache: Cache
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    trusted = identity.public_key

    def verifier(group: bytes, reader_key: bytes) -> bool:
        calls.append((group, reader_key))
        return reader_key == trusted

    store: dict[bytes, bytes] = {}
    applet = DeviceApplet(device_key, persistent_keys=store, reader_verifier=verifier)
    assert run_transaction(cache.transaction(identity), applet).authenticated
    assert calls == [(GROUP, trusted)]

    store.clear()
    rogue = ReaderIdentity(GROUP, INSTANCE, fixed_key(0xBAD))
    transcript: Transcript = []
    result = run_transaction(cache.transaction(rogue), applet, transcript=transcript)
    assert (result.authenticated, result.error) == (False, "status_word")
    assert ResponseApdu.parse(transcript[2][1]).sw == 0x6982
    assert store == {}  # nothing persisted for a reader that did not prove itself


def test_wrong_reader_signature_makes_device_refuse(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    def corrupt_signature(cmd: bytes) -> bytes:
        apdu = CommandApdu.parse(cmd)
        if apdu.ins != c.INS_AUTH1:
            return cmd
        items = [(t.tag, t.value) for t in decode_all(apdu.data)]
        items = [(t, bytes([v[0] ^ 1]) + v[1:] if t == c.TAG_SIGNATURE else v) for t, v in items]
        return CommandApdu(apdu.cla, apdu.ins, apdu.p1, apdu.p2, encode_many(items)).encode()

    transcript: Transcript = []
    middle = Middle(applet, command=corrupt_signature)
    result = run_transaction(cache.transaction(identity), middle, transcript=transcript)
    assert (result.authenticated, result.error) == (False, "status_word")
    assert ResponseApdu.parse(transcript[2][1]).sw == 0x6982


def test_reader_without_key_in_auth1_is_refused(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    def strip_key(cmd: bytes) -> bytes:
        apdu = CommandApdu.parse(cmd)
        if apdu.ins != c.INS_AUTH1:
            return cmd
        items = [(t.tag, t.value) for t in decode_all(apdu.data) if t.tag != c.TAG_PUBLIC_KEY]
        return CommandApdu(apdu.cla, apdu.ins, 0, 0, encode_many(items)).encode()

    result = run_transaction(cache.transaction(identity), Middle(applet, command=strip_key))
    assert (result.authenticated, result.error) == (False, "status_word")


def test_flipping_fast_flag_in_transit_fails(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    def downgrade(cmd: bytes) -> bytes:
        apdu = CommandApdu.parse(cmd)
        if apdu.ins != c.INS_AUTH0:
            return cmd
        items = [
            (t.tag, b"\x00" if t.tag == c.TAG_FLAGS else t.value) for t in decode_all(apdu.data)
        ]
        return CommandApdu(apdu.cla, apdu.ins, 0, 0, encode_many(items)).encode()

    result = run_transaction(cache.transaction(identity), Middle(applet, command=downgrade))
    assert not result.authenticated


def test_lock_transaction_code_reaches_device(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    from passgate.proto.aliro import ReaderTransaction

    tx = ReaderTransaction(
        identity,
        lookup=cache.lookup,
        fast_candidates=cache.fast,
        transaction_code=c.TRANSACTION_LOCK,
    )
    transcript: Transcript = []
    assert run_transaction(tx, applet, transcript=transcript).authenticated
    auth0 = {t.tag: t.value for t in decode_all(CommandApdu.parse(transcript[1][0]).data)}
    assert auth0[c.TAG_TRANSACTION_CODE] == b"\x01"


def test_access_decision_is_sent_to_device(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    result = run_transaction(cache.transaction(identity), applet, decide=lambda r: False)
    assert result.authenticated
    assert applet.last_outcome is False


@pytest.mark.parametrize("fast", [False, True])
def test_replayed_device_responses_never_authenticate(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache, fast: bool
) -> None:
    if fast:
        first_tap(identity, applet, cache)
    transcript: Transcript = []
    original = run_transaction(cache.transaction(identity), applet, transcript=transcript)
    assert original.authenticated and original.flow == ("fast" if fast else "standard")
    recorded = [rsp for _, rsp in transcript]
    for seed in (b"a", b"b"):
        replayed = run_transaction(cache.transaction(identity, seed=seed), ReplayDevice(recorded))
        assert not replayed.authenticated
        assert replayed.error in ("protocol_error", "status_word")


def test_replayed_reader_commands_are_refused_by_device(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    transcript: Transcript = []
    run_transaction(cache.transaction(identity, prefer_fast=False), applet, transcript=transcript)
    store_before = dict(applet._persistent)
    responses = [applet.process(cmd) for cmd, _ in transcript[:3]]
    assert ResponseApdu.parse(responses[1]).ok  # AUTH0 is answered with a new ephemeral key
    assert ResponseApdu.parse(responses[2]).sw == 0x6982  # old signature, new device key
    assert dict(applet._persistent) == store_before


def test_reader_state_machine_misuse(identity: ReaderIdentity, cache: Cache) -> None:
    tx = cache.transaction(identity)
    assert tx.receive(b"\x90\x00") == TransactionResult.failed("protocol_error")
    with pytest.raises(AliroError):
        tx.start()  # a finished transaction cannot be restarted
    tx = cache.transaction(identity)
    with pytest.raises(AliroError):
        tx.finish(False)
    tx.start()
    result = tx.receive(bytes.fromhex("6A82"))
    assert result == TransactionResult.failed("status_word")
    assert tx.receive(b"anything") == result  # stays finished
    with pytest.raises(AliroError):
        tx.finish(True)
    assert CommandApdu.parse(tx.finish(False)).ins == c.INS_CONTROL_FLOW
    with pytest.raises(AliroError):
        tx.finish(False)


def test_reader_refuses_device_without_common_version(
    identity: ReaderIdentity, device_key: ec.EllipticCurvePrivateKey, cache: Cache
) -> None:
    applet = DeviceApplet(device_key, persistent_keys={}, versions=(0x0200,))
    result = run_transaction(cache.transaction(identity), applet)
    assert result.error == "unsupported_version"


def test_reader_identity_validation() -> None:
    with pytest.raises(AliroError):
        ReaderIdentity(b"short", INSTANCE, fixed_key(1))
    with pytest.raises(AliroError):
        ReaderIdentity(GROUP, INSTANCE, ec.generate_private_key(ec.SECP384R1()))


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        ("80810000024101", 0x6985),  # AUTH1 before SELECT/AUTH0
        ("803C000006410101420100", 0x6985),  # CONTROL FLOW before SELECT
        ("00A4040009A000000909ACCE550200", 0x6A82),  # step-up applet not implemented
        ("00A4040003A0000100", 0x6A82),  # unknown AID
        ("00A4000009A000000909ACCE550100", 0x6A86),
        ("80D1000001AA", 0x6D00),  # LOAD CERTIFICATE not implemented
        ("80C9000001AA", 0x6D00),  # EXCHANGE not implemented
        ("00C3000001AA", 0x6D00),
        ("80FF0000", 0x6D00),
        ("84800000", 0x6E00),
        ("00", 0x6700),
    ],
)
def test_device_status_words(applet: DeviceApplet, command: str, sw: int) -> None:
    assert ResponseApdu.parse(applet.process(bytes.fromhex(command))).sw == sw


def test_device_refuses_auth0_garbage_then_needs_new_select(applet: DeviceApplet) -> None:
    select = CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode()
    assert ResponseApdu.parse(applet.process(select)).ok
    bad = CommandApdu(0x80, c.INS_AUTH0, 0, 0, b"\x41\x01\x01").encode()
    assert ResponseApdu.parse(applet.process(bad)).sw == 0x6A80
    assert ResponseApdu.parse(applet.process(bad)).sw == 0x6985


def test_auth0_is_deterministic_under_a_fixed_rng_and_fresh_otherwise(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    def auth0_for(seed: bytes | None) -> CommandApdu:
        tx = cache.transaction(identity, seed=seed)
        out = tx.receive(applet.process(tx.start()))
        assert isinstance(out, bytes)
        return CommandApdu.parse(out)

    a, b, other = auth0_for(b"seed"), auth0_for(b"seed"), auth0_for(None)
    assert a == b
    assert (a.cla, a.ins, a.p1, a.p2, a.le) == (0x80, 0x80, 0, 0, None)
    fields = {t.tag: t.value for t in decode_all(a.data)}
    assert [t.tag for t in decode_all(a.data)] == [0x41, 0x42, 0x5C, 0x87, 0x4C, 0x4D]
    assert fields[0x41] == b"\x01" and fields[0x42] == b"\x00" and fields[0x5C] == b"\x01\x00"
    assert fields[0x4D] == GROUP + INSTANCE
    other_fields = {t.tag: t.value for t in decode_all(other.data)}
    assert other_fields[0x87] != fields[0x87] and other_fields[0x4C] != fields[0x4C]
