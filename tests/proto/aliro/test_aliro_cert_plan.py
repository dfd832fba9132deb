"""The Aliro certification test plan's NFC expedited-phase cases, one test per case.

Case names follow the Connectivity Standards Alliance's public certification tool
(test_collections/aliro/nfc_reader and nfc_user_device). "Reader" cases put our reader
side under test (the test plays the user device, often a real DeviceApplet with one
stimulus changed); "UD" cases put our device applet under test (the test plays the
reader). Cases left out, and why, are listed in docs/aliro.md.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.proto.aliro.aliro_support import (
    GROUP,
    READER_KEY,
    SUB,
    Cache,
    Tool,
    fixed_key,
    h,
    tap,
    vector_device,
)

from passgate.proto.aliro import (
    DeviceApplet,
    ReaderCertificate,
    ReaderIdentity,
    crypto,
    issue,
    messages,
    run_transaction,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.messages import ControlFlow, build_fci, parse_reader_status
from passgate.proto.aliro.runner import run_until_result
from passgate.proto.apdu import CommandApdu, ResponseApdu
from passgate.proto.tlv import decode_all, encode_tlv

NOW = datetime.now(UTC)
OWN_KEY = fixed_key(0x5EED)
GROUP_PUB = h("reader_public_key")
OK = b"\x90\x00"


def cert(**fields: Any) -> bytes:
    issuer_key = fields.pop("issuer_key", READER_KEY)
    args: dict[str, Any] = {
        "public_key": crypto.public_bytes(OWN_KEY),
        "not_before": NOW - timedelta(days=1),
        "not_after": NOW + timedelta(days=30),
    }
    args.update(fields)
    return issue(issuer_key, **args).encode()


LONG_CERT = dict(serial=(1 << 159) - 3, issuer="aliro-test-very-longnamed-issuer", subject="s" * 32)


def certified(certificate: bytes | None = None) -> ReaderIdentity:
    return ReaderIdentity(GROUP, SUB, GROUP_PUB, crypto.key_signer(OWN_KEY), certificate or cert())


def run(identity: ReaderIdentity, tool: Tool, cache: Cache | None = None, **kw: Any) -> Any:
    if cache is None:
        cache = Cache()
        cache.add(tool.device.public_key)
    result = run_transaction(cache.transaction(identity, **kw), tool)
    if result.authenticated:
        assert result.endpoint_public_key is not None
        cache.learn(result.endpoint_public_key, result.new_persistent_key)
    return result


def fields_of(apdu: CommandApdu) -> dict[int, bytes]:
    return {t.tag: t.value for t in decode_all(apdu.data)}


def control_flow(tool: Tool) -> ControlFlow:
    close = tool.closing()
    assert close.ins == c.INS_CONTROL_FLOW
    return ControlFlow.parse(close.data)


# === reader under test (the tool plays the user device) ==================================


def test_nfc_rdr_standard_no_cert(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    tool = Tool(applet)
    result = run(identity, tool)
    assert result.authenticated and result.flow == "standard"
    assert [cmd.ins for cmd, _ in tool.seen] == [0xA4, 0x80, 0x81, 0xC9]
    assert fields_of(tool.sent(c.INS_AUTH1)[0])[c.TAG_FLAGS] == b"\x01"
    assert applet.last_outcome is not None and applet.last_outcome >> 8 == 0x01


def test_nfc_rdr_standard_cert_in_auth1_no_chaining() -> None:
    device = vector_device(extended_length=(1024, 1024))
    tool = Tool(device)
    assert run(certified(), tool, certificate_mode="auth1").authenticated
    auth1 = tool.sent(c.INS_AUTH1)
    assert len(auth1) == 1 and c.TAG_READER_CERTIFICATE in fields_of(auth1[0])
    assert all(not cmd.cla & c.CLA_CHAINING for cmd, _ in tool.seen)


def test_nfc_rdr_standard_cert_in_auth1_with_chaining(applet: DeviceApplet) -> None:
    tool = Tool(applet)
    assert run(certified(cert(**LONG_CERT)), tool, certificate_mode="auth1").authenticated
    parts = tool.sent(c.INS_AUTH1)
    assert len(parts) == 2 and parts[0].cla == 0x90 and parts[1].cla == 0x80
    whole = fields_of(CommandApdu(0x80, 0x81, 0, 0, parts[0].data + parts[1].data))
    assert whole[c.TAG_FLAGS] == b"\x01"
    ReaderCertificate.parse(whole[c.TAG_READER_CERTIFICATE])


def test_nfc_rdr_standard_cert_in_load_cert_no_chaining(applet: DeviceApplet) -> None:
    tool = Tool(applet)
    assert run(certified(), tool, certificate_mode="load").authenticated
    load = tool.sent(c.INS_LOAD_CERTIFICATE)
    assert len(load) == 1 and not load[0].cla & c.CLA_CHAINING
    assert c.TAG_READER_CERTIFICATE not in fields_of(tool.sent(c.INS_AUTH1)[0])


def test_nfc_rdr_standard_cert_in_load_cert_with_chaining(applet: DeviceApplet) -> None:
    long_cert = cert(**LONG_CERT)
    assert len(long_cert) > 255
    tool = Tool(applet)
    assert run(certified(long_cert), tool, certificate_mode="load").authenticated
    load = tool.sent(c.INS_LOAD_CERTIFICATE)
    assert [cmd.cla for cmd in load] == [0x90, 0x80]
    assert load[0].data + load[1].data == long_cert


def test_nfc_rdr_neg_sel_rsp_no_common_expedited_protocol_version(
    identity: ReaderIdentity,
) -> None:
    def offer_0a00(cmd: bytes, rsp: bytes) -> bytes:
        return build_fci([0x0A00]) + OK if cmd[1] == c.INS_SELECT else rsp

    tool = Tool(vector_device(), response=offer_0a00)
    result = run(identity, tool)
    assert result.error == "unsupported_version"
    assert control_flow(tool) == ControlFlow(0x00, 0x27)


def test_rd_nfc_select_1_2_wrong_aid_in_fci(identity: ReaderIdentity) -> None:
    def other_aid(cmd: bytes, rsp: bytes) -> bytes:
        return rsp.replace(c.AID_PRIMARY, bytes.fromhex("A000000909ACCE55FE"), 1)

    tool = Tool(vector_device(), response=other_aid)
    assert not run(identity, tool).authenticated
    assert control_flow(tool) == ControlFlow(0x00, 0x00)


def test_nfc_rdr_neg_auth0_wrong_value(identity: ReaderIdentity) -> None:
    def tag_88(cmd: bytes, rsp: bytes) -> bytes:
        return b"\x88" + rsp[1:] if cmd[1] == c.INS_AUTH0 else rsp

    tool = Tool(vector_device(), response=tag_88)
    assert not run(identity, tool).authenticated
    assert control_flow(tool) == ControlFlow(0x00, 0x00)


def test_nfc_rdr_neg_auth0_extra_tag(identity: ReaderIdentity) -> None:
    def extra(cmd: bytes, rsp: bytes) -> bytes:
        return rsp[:-2] + bytes.fromhex("AA03010203") + OK if cmd[1] == c.INS_AUTH0 else rsp

    device = vector_device()
    tool = Tool(device, response=extra)
    assert run(identity, tool).authenticated
    assert device.granted


def _patch_auth1_answer(monkeypatch: pytest.MonkeyPatch, change: Callable[[bytes], bytes]) -> None:
    original = messages.Auth1Response.encode
    monkeypatch.setattr(messages.Auth1Response, "encode", lambda self: change(original(self)))


def test_nfc_rdr_neg_auth1_extra_tag(
    identity: ReaderIdentity, applet: DeviceApplet, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_auth1_answer(monkeypatch, lambda body: body + bytes.fromhex("AA03010203"))
    assert run(identity, Tool(applet)).authenticated
    assert applet.granted


def test_nfc_rdr_neg_auth1_wrong_ud_signature(identity: ReaderIdentity) -> None:
    sign = crypto.key_signer(fixed_key(0xD0D0))
    device = vector_device(signer=lambda m: sign(m)[:-1] + bytes([sign(m)[-1] ^ 0xFF]))
    result = run(identity, Tool(device))
    assert result.error == "bad_signature"
    assert device.last_outcome == c.READER_STATUS_BAD_SIGNATURE


def test_nfc_rdr_neg_auth1_wrong_value(
    identity: ReaderIdentity, applet: DeviceApplet, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_auth1_answer(monkeypatch, lambda body: body.replace(b"\x9e\x40", b"\x88\x40", 1))
    result = run(identity, Tool(applet))
    assert not result.authenticated
    assert applet.last_outcome is not None and applet.last_outcome >> 8 == 0x00


def test_rd_nfc_exchange_1_3_device_signs_other_ephemeral_key(identity: ReaderIdentity) -> None:
    key = fixed_key(0xD0D0)

    def wrong_data(message: bytes) -> bytes:  # 87 (reader ephemeral X) changed
        i = message.index(b"\x87\x20") + 2
        return crypto.sign_raw(key, message[:i] + bytes(32) + message[i + 32 :])

    device = DeviceApplet(
        key, reader_groups={GROUP: GROUP_PUB}, persistent_keys={}, signer=wrong_data
    )
    run(identity, Tool(device))
    assert device.last_outcome == 0x0004


def test_rd_nfc_exchange_1_7_no_key_in_auth1_answer(
    identity: ReaderIdentity, applet: DeviceApplet, monkeypatch: pytest.MonkeyPatch
) -> None:
    _patch_auth1_answer(monkeypatch, lambda body: body[2 + 65 :])  # 5A dropped
    result = run(identity, Tool(applet))
    assert result.error == "protocol_error"
    assert applet.last_outcome == c.READER_STATUS_BAD_FORMAT


def test_nfc_rdr_fast(identity: ReaderIdentity, applet: DeviceApplet, cache: Cache) -> None:
    first = Tool(applet)
    assert run(identity, first, cache).flow == "standard"
    assert applet.granted
    second = Tool(applet)
    result = run(identity, second, cache)
    assert result.flow == "fast" and applet.granted
    assert fields_of(second.sent(c.INS_AUTH0)[0])[c.TAG_FLAGS] == b"\x01"
    assert [cmd.ins for cmd, _ in second.seen] == [0xA4, 0x80, 0xC9]


def test_nfc_rdr_fast_kpersistent_cache_16(identity: ReaderIdentity, cache: Cache) -> None:
    devices = [
        DeviceApplet(fixed_key(100 + i), reader_groups={GROUP: GROUP_PUB}, persistent_keys={})
        for i in range(16)
    ]
    for device in devices:
        cache.add(device.public_key)
        assert tap(cache, identity, device).flow == "standard"
    assert all(tap(cache, identity, device).flow == "fast" for device in devices)


def test_rd_nfc_auth0_1_1_fast_auth0_has_no_vendor_extension(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    run(identity, Tool(applet), cache)
    tool = Tool(applet)
    run(identity, tool, cache)
    assert c.TAG_READER_EXTENSION not in fields_of(tool.sent(c.INS_AUTH0)[0])


# === user device under test (the tool plays the reader) ==================================


def select(device: DeviceApplet) -> bytes:
    return device.process(CommandApdu(0, c.INS_SELECT, 4, 0, c.AID_PRIMARY, 256).encode())


def auth0_apdu(**changes: Any) -> CommandApdu:
    body = messages.Auth0Command(
        flags=changes.pop("flags", 0),
        policy=changes.pop("policy", 1),
        version=changes.pop("version", 0x0100),
        reader_ephemeral=changes.pop(
            "reader_ephemeral", crypto.public_bytes(fixed_key(int.from_bytes(os.urandom(8))))
        ),
        transaction_id=os.urandom(16),
        reader_id=changes.pop("reader_id", GROUP + SUB),
        extension=changes.pop("extension", None),
    ).encode()
    return CommandApdu(0x80, 0x80, changes.pop("p1", 0), changes.pop("p2", 0), body, 256)


def is_error(answer: bytes) -> bool:
    return ResponseApdu.parse(answer).sw != 0x9000


def test_nfc_ud_standard_no_cert(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    result = run(identity, Tool(applet), prefer_fast=False)
    assert result.authenticated
    assert applet.last_outcome == 0x0101


def test_nfc_ud_neg_auth0_wrong_p1p2(applet: DeviceApplet) -> None:
    select(applet)
    assert is_error(applet.process(auth0_apdu(p1=0x01, p2=0x02).encode()))


def test_nfc_ud_neg_auth0_unsupported_protocol_version(applet: DeviceApplet) -> None:
    select(applet)
    assert is_error(applet.process(auth0_apdu(version=0x0001).encode()))
    close = CommandApdu(0x80, 0x3C, 0, 0, ControlFlow(0, 0).encode())
    assert applet.process(close.encode()) == OK  # accepted in every state


def test_ud_nfc_auth0_1_2_invalid_reader_ephemeral_key(applet: DeviceApplet) -> None:
    select(applet)
    off_curve = b"\x04" + bytes(31) + b"\x01" + bytes(32)
    assert is_error(applet.process(auth0_apdu(reader_ephemeral=off_curve).encode()))


def test_nfc_ud_neg_auth0_extra_tag(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    def extra(cmd: bytes) -> bytes:
        if cmd[1] != c.INS_AUTH0:
            return cmd
        apdu = CommandApdu.parse(cmd)
        data = apdu.data + bytes.fromhex("AA03010203")
        return CommandApdu(apdu.cla, apdu.ins, 0, 0, data, 256).encode()

    assert run(identity, Tool(applet, command=extra)).authenticated
    assert applet.granted


def test_nfc_ud_neg_auth0_chaining_not_completed(applet: DeviceApplet) -> None:
    select(applet)
    data = auth0_apdu(extension=os.urandom(100)).data
    blocks = [data[i : i + 30] for i in range(0, len(data), 30)]
    for block in blocks[:1]:
        assert applet.process(CommandApdu(0x90, 0x80, 0, 0, block).encode()) == OK
    answer = applet.process(CommandApdu(0x80, 0x80, 0, 0, b"".join(blocks[2:]), 256).encode())
    assert is_error(answer)
    assert is_error(applet.process(CommandApdu(0x80, 0x81, 0, 0, b"\x41\x01\x01").encode()))


def test_nfc_ud_auth0_response_chaining(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    tool = Tool(applet)
    result = run(identity, tool, extension=os.urandom(300), prefer_fast=False)
    assert result.authenticated and applet.granted  # B1 reached both sides' HKDF info
    assert [cmd.cla for cmd in tool.sent(c.INS_AUTH0)] == [0x90, 0x80]


def test_ud_nfc_auth0_1_3_fresh_ephemeral_key_and_no_b2(applet: DeviceApplet) -> None:
    keys = []
    for _ in range(2):
        select(applet)
        answer = ResponseApdu.parse(applet.process(auth0_apdu().encode()))
        parsed = messages.Auth0Response.parse(answer.data)
        assert parsed.extension is None
        keys.append(parsed.device_ephemeral)
    assert keys[0] != keys[1]


def test_ud_nfc_auth0_2_0_fast_cryptogram_opens(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    tap(cache, identity, applet)
    tool = Tool(applet)
    result = run(identity, tool, cache)
    assert result.flow == "fast" and result.status is not None
    assert result.status.issued_at == bytes(20) and result.status.expires_at == bytes(20)


def test_ud_nfc_auth0_2_1_consecutive_fast_cryptograms_differ(
    identity: ReaderIdentity, applet: DeviceApplet, cache: Cache
) -> None:
    tap(cache, identity, applet)
    grams = []
    for _ in range(2):
        tool = Tool(applet)
        run(identity, tool, cache)
        grams.append(messages.Auth0Response.parse(tool.seen[1][1][:-2]).cryptogram)
    assert grams[0] is not None and grams[0] != grams[1]


def test_nfc_ud_neg_auth0_different_cryptogram_consecutive_fast(applet: DeviceApplet) -> None:
    seen = []
    for _ in range(2):  # no STANDARD before: bogus cryptograms, still fresh each time
        select(applet)
        answer = ResponseApdu.parse(applet.process(auth0_apdu(flags=1).encode()))
        parsed = messages.Auth0Response.parse(answer.data)
        seen.append((parsed.cryptogram, parsed.device_ephemeral))
    assert seen[0][0] != seen[1][0] and seen[0][1] != seen[1][1]


def test_ud_nfc_auth0_3_0_standard_with_b1_has_no_cryptogram(applet: DeviceApplet) -> None:
    select(applet)
    command = auth0_apdu(extension=bytes.fromhex("30010004030A8736"))
    answer = ResponseApdu.parse(applet.process(command.encode()))
    assert messages.Auth0Response.parse(answer.data).cryptogram is None


def _auth1_rewrite(change: Callable[[CommandApdu], CommandApdu]) -> Callable[[bytes], bytes]:
    def rewrite(cmd: bytes) -> bytes:
        return change(CommandApdu.parse(cmd)).encode() if cmd[1] == c.INS_AUTH1 else cmd

    return rewrite


def test_nfc_ud_neg_auth1_wrong_p1p2(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    tool = Tool(
        applet, command=_auth1_rewrite(lambda a: CommandApdu(a.cla, a.ins, 1, 2, a.data, a.le))
    )
    assert not run(identity, tool).authenticated
    assert is_error(tool.seen[2][1])


def test_nfc_ud_neg_auth1_wrong_values(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    def long_signature(a: CommandApdu) -> CommandApdu:
        data = a.data.replace(b"\x9e\x40", b"\x9e\x41", 1)
        i = data.index(b"\x9e\x41") + 2 + 64
        return CommandApdu(a.cla, a.ins, 0, 0, data[:i] + b"\xff" + data[i:], a.le)

    tool = Tool(applet, command=_auth1_rewrite(long_signature))
    assert not run(identity, tool).authenticated
    assert is_error(tool.seen[2][1])


def test_nfc_ud_neg_auth1_extra_tag(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    tool = Tool(
        applet,
        command=_auth1_rewrite(
            lambda a: CommandApdu(a.cla, a.ins, 0, 0, a.data + bytes.fromhex("AA03010203"), a.le)
        ),
    )
    assert run(identity, tool).authenticated and applet.granted


def test_nfc_ud_neg_auth1_wrong_reader_signature(applet: DeviceApplet) -> None:
    sign = crypto.key_signer(READER_KEY)

    def wrong_reader_id(message: bytes) -> bytes:  # 4D's last byte set to FF, then signed
        return sign(message[:33] + b"\xff" + message[34:])

    identity = ReaderIdentity(GROUP, SUB, GROUP_PUB, wrong_reader_id)
    tool = Tool(applet)
    assert not run(identity, tool).authenticated
    assert tool.seen[2][1] == b"\x69\x82"


def test_nfc_ud_neg_auth1_chaining_not_completed(
    identity: ReaderIdentity, applet: DeviceApplet
) -> None:
    tx = Cache().transaction(identity, prefer_fast=False)
    tx.start()
    auth0 = tx.receive(select(applet))
    assert isinstance(auth0, CommandApdu)
    auth1 = tx.receive(applet.process(auth0.encode()))
    assert isinstance(auth1, CommandApdu)
    blocks = [auth1.data[i : i + 30] for i in range(0, len(auth1.data), 30)]
    assert applet.process(CommandApdu(0x90, 0x81, 0, 0, blocks[0]).encode()) == OK
    answer = applet.process(CommandApdu(0x80, 0x81, 0, 0, b"".join(blocks[2:]), 256).encode())
    assert is_error(answer)


def test_ud_nfc_auth1_1_0_key_slot_with_certificate_in_auth1() -> None:
    device = vector_device(extended_length=(1024, 1024))
    cache = Cache()
    cache.add(device.public_key)
    tool = Tool(device)
    result = run(certified(), tool, cache, certificate_mode="auth1", lookup_slot=cache.lookup_slot)
    assert result.authenticated and device.granted
    assert fields_of(tool.sent(c.INS_AUTH1)[0])[c.TAG_FLAGS] == b"\x00"


def test_ud_nfc_auth1_1_1_corrupted_certificate_in_load_cert(applet: DeviceApplet) -> None:
    body = cert()
    parsed = ReaderCertificate.parse(body)
    broken = body.replace(parsed.public_key, b"\xff" * 65, 1)
    tool = Tool(applet)
    assert not run(certified(broken), tool, certificate_mode="load").authenticated
    assert tool.sent(c.INS_LOAD_CERTIFICATE)
    assert is_error(tool.seen[2][1])


def test_ud_nfc_auth1_1_2_certificate_from_another_issuer(applet: DeviceApplet) -> None:
    for mode in ("load", "auth1"):
        tool = Tool(applet)
        rogue = certified(cert(issuer_key=fixed_key(77)))
        assert not run(rogue, tool, certificate_mode=mode).authenticated
        assert b"\x69\x82" in [answer for _, answer in tool.seen]


def test_nfc_ud_standard_cert_in_auth1_with_chaining(applet: DeviceApplet) -> None:
    tool = Tool(applet)
    assert run(certified(cert(**LONG_CERT)), tool, certificate_mode="auth1").authenticated
    assert [cmd.cla for cmd in tool.sent(c.INS_AUTH1)][:1] == [0x90]
    assert applet.granted


@pytest.mark.parametrize("long", [False, True], ids=["no_chaining", "with_chaining"])
def test_nfc_ud_standard_cert_in_load_cert(long: bool, applet: DeviceApplet) -> None:
    identity = certified(cert(**LONG_CERT) if long else None)
    tool = Tool(applet)
    assert run(identity, tool, certificate_mode="load").authenticated and applet.granted
    assert len(tool.sent(c.INS_LOAD_CERTIFICATE)) == (2 if long else 1)


def test_nfc_ud_neg_standard_cert_in_load_cert_with_chaining_incorrect_format(
    applet: DeviceApplet,
) -> None:
    body = cert(**LONG_CERT)
    parsed = ReaderCertificate.parse(body)
    broken = body.replace(b"\x00" + parsed.signature, b"\xff" * (1 + len(parsed.signature)), 1)
    tool = Tool(applet)
    assert not run(certified(broken), tool, certificate_mode="load").authenticated
    load_answers = [a for cmd, a in tool.seen if cmd.ins == c.INS_LOAD_CERTIFICATE]
    assert load_answers[0] == OK and is_error(load_answers[-1])


def test_nfc_ud_neg_exchange_with_extra_tag(identity: ReaderIdentity, applet: DeviceApplet) -> None:
    tx = Cache()
    tx.add(applet.public_key)
    reader = tx.transaction(identity, prefer_fast=False)
    tool = Tool(applet)
    result = run_until_result(reader, tool)
    assert result.authenticated
    # The tool builds its own EXCHANGE: 97 plus an undefined 99 TLV, under SKReader.
    keys = reader._channel
    assert keys is not None
    body = keys.seal(encode_tlv(0x97, b"\x01\x01") + encode_tlv(0x99, b"\x01"))
    answer = applet.process(CommandApdu(0x80, 0xC9, 0, 0, body, 256).encode())
    assert answer.endswith(OK) and applet.last_outcome == 0x0101
    assert keys.open(answer[:-2]) == c.EXCHANGE_OK


def test_nfc_ud_exchange_without_reader_status_answers_mailbox_error(
    identity: ReaderIdentity, applet: DeviceApplet
) -> None:
    cache = Cache()
    cache.add(applet.public_key)
    reader = cache.transaction(identity, prefer_fast=False)
    assert run_until_result(reader, Tool(applet)).authenticated
    channel = reader._channel
    assert channel is not None
    read = encode_tlv(0xBA, encode_tlv(0x87, bytes.fromhex("00000008")))
    answer = applet.process(CommandApdu(0x80, 0xC9, 0, 0, channel.seal(read), 256).encode())
    assert channel.open(answer[:-2]) == c.EXCHANGE_MAILBOX_ERROR
    assert applet.last_outcome is None
    assert parse_reader_status(read) is None


def test_nfc_ud_select_response(applet: DeviceApplet) -> None:
    answer = ResponseApdu.parse(select(applet))
    fci = messages.parse_fci(answer.data)
    assert fci.versions == (0x0100, 0x0009) and fci.medium == b"\x00\x00"


def test_nfc_ud_standard_sixteen_groupidentifier_one_ac() -> None:
    groups = {GROUP[:-1] + bytes([0xAB + i]): fixed_key(200 + i) for i in range(14)}
    device = DeviceApplet(
        fixed_key(0xD0D0),
        reader_groups={g: crypto.public_bytes(k) for g, k in groups.items()},
        persistent_keys={},
    )
    for group, key in groups.items():
        cache = Cache()
        cache.add(device.public_key)
        identity = ReaderIdentity.with_key(group, SUB, key)
        assert run(identity, Tool(device), cache).authenticated and device.granted


def test_nfc_ud_fast_kpersistent_cache_max(applet: DeviceApplet) -> None:
    cache = Cache()
    cache.add(applet.public_key)
    assert (
        run(ReaderIdentity.with_key(GROUP, SUB, READER_KEY), Tool(applet), cache).flow == "standard"
    )
    for _ in range(16):  # readers of the same group, each with its own sub-identifier
        sub = SUB[:-1] + os.urandom(1)
        identity = ReaderIdentity.with_key(GROUP, sub, READER_KEY)
        assert run(identity, Tool(applet), cache).flow == "fast"


# === the certificate's X.509 expansion against a stock X.509 parser ======================


def test_certificate_expands_to_a_standard_x509_certificate() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    made = ReaderCertificate.parse(cert(**LONG_CERT))
    parsed = x509.load_der_x509_certificate(made.x509_der(GROUP_PUB))
    assert parsed.serial_number == LONG_CERT["serial"]
    assert parsed.subject.rfc4514_string() == "CN=" + "s" * 32
    assert parsed.extensions.get_extension_for_class(x509.BasicConstraints).critical
    READER_KEY.public_key().verify(
        parsed.signature, parsed.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())
    )
    key_id = parsed.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert key_id.key_identifier == hashlib.sha1(GROUP_PUB).digest()


def test_certificate_defaults_are_left_out_of_the_compressed_form() -> None:
    minimal = issue(READER_KEY, public_key=crypto.public_bytes(OWN_KEY)).encode()
    fields = [t.tag for t in decode_all(decode_all(minimal)[0].children()[1].value)]
    assert fields == [0x85, 0x86]
    assert ReaderCertificate.parse(minimal).issuer == "issuer"
