"""Known-answer tests: every byte of the Aliro 1.0 worked examples, on both sides.

Appendix 14.3 (STANDARD, no reader certificate) and 14.4 (FAST). Private keys, ephemeral
scalars and transaction identifiers are injected through the rng hooks; the ECDSA nonce
behind each published signature is recovered from the published signed data, so a
signature is reproduced only if our signed data is byte for byte the published one.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tests.proto.aliro.aliro_support import (
    COMMON,
    CREDENTIAL_KEY,
    FAST,
    GROUP,
    READER_KEY,
    STANDARD,
    SUB,
    Cache,
    fixed_nonce_signer,
    h,
    nonce_of,
    scripted_rng,
    vector_device,
)

from passgate.proto.aliro import ReaderIdentity, ReaderTransaction, crypto
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.messages import build_fci, encode_reader_status, parse_fci
from passgate.proto.apdu import CommandApdu

OK = b"\x90\x00"
READER_SIGNED = h("reader_authentication_data_signed", STANDARD)
READER_SIGNATURE = h("reader_signature_raw_r_s", STANDARD)
AUTH1_PLAINTEXT = h("auth1_response_plaintext", STANDARD)
DEVICE_SIGNATURE = AUTH1_PLAINTEXT[AUTH1_PLAINTEXT.index(b"\x9e\x40") + 2 :][:64]
DEVICE_SIGNED = READER_SIGNED[:-4] + c.DEVICE_USAGE


def _vector_reader(section: dict[str, str], *, fast: bool, cache: Cache) -> ReaderTransaction:
    k = nonce_of(READER_SIGNATURE, READER_KEY, READER_SIGNED)
    identity = ReaderIdentity(GROUP, SUB, h("reader_public_key"), fixed_nonce_signer(READER_KEY, k))
    return ReaderTransaction(
        identity,
        lookup=cache.lookup,
        fast_candidates=cache.fast,
        prefer_fast=fast,
        rng=scripted_rng(
            h("reader_ephemeral_private_key", section), h("transaction_identifier", section)
        ),
    )


def _context(section: dict[str, str]) -> crypto.Context:
    """The transaction context of one appendix example, from its published values."""
    return crypto.Context(
        reader_key_x=h("reader_public_key")[1:33],
        reader_id=h("reader_identifier"),
        version=c.VERSION_1_0,
        reader_ephemeral=h("reader_ephemeral_public_key", section),
        transaction_id=h("transaction_identifier", section),
        flags=int(section["auth0_flags_tag41"], 16),
        policy=int(section["auth0_authentication_policy_tag42"], 16),
        fci_proprietary=parse_fci(h("select_response_data")).proprietary,
        device_ephemeral=h("device_ephemeral_public_key", section),
    )


def _standard_context() -> crypto.Context:
    return _context(STANDARD)


# --- the pieces -----------------------------------------------------------------------------


def test_select_answer_is_the_published_fci() -> None:
    assert build_fci([c.VERSION_1_0]) == h("select_response_data")
    fci = parse_fci(h("select_response_data"))
    assert fci.versions == (c.VERSION_1_0,)
    assert fci.max_command is None and fci.max_response is None


def test_standard_derivations() -> None:
    ctx = _standard_context()
    assert ctx.salt(c.LABEL_VOLATILE).hex() == STANDARD["hkdf_salt_volatile"]
    reader_eph = crypto.private_key_from_rng(
        scripted_rng(h("reader_ephemeral_private_key", STANDARD))
    )
    device_eph = crypto.load_public_key(h("device_ephemeral_public_key", STANDARD))
    kdh = crypto.k_dh(crypto.ecdh(reader_eph, device_eph), ctx.transaction_id)
    assert kdh.hex() == STANDARD["k_dh_x963"]
    keys = crypto.standard_keys(kdh, ctx)
    okm = h("hkdf_output_160", STANDARD)
    assert (keys.sk_reader, keys.sk_device, keys.step_up, keys.ble, keys.ursk) == (
        okm[0:32],
        okm[32:64],
        okm[64:96],
        okm[96:128],
        okm[128:160],
    )
    persistent = crypto.persistent_key(kdh, ctx, h("credential_public_key"))
    assert persistent.hex() == STANDARD["k_persistent"]


def test_signed_data_of_both_sides() -> None:
    ctx = _standard_context()
    assert ctx.signed_data(c.READER_USAGE) == READER_SIGNED
    assert ctx.signed_data(c.DEVICE_USAGE) == DEVICE_SIGNED
    reader_pub = crypto.load_public_key(h("reader_public_key"))
    credential_pub = crypto.load_public_key(h("credential_public_key"))
    assert crypto.verify_raw(reader_pub, READER_SIGNATURE, READER_SIGNED)
    assert crypto.verify_raw(credential_pub, DEVICE_SIGNATURE, DEVICE_SIGNED)
    assert not crypto.verify_raw(credential_pub, DEVICE_SIGNATURE, READER_SIGNED)


def test_fast_derivations_and_cryptogram() -> None:
    ctx = _context(FAST)
    credential = h("credential_public_key")
    salt = ctx.salt(c.LABEL_FAST) + credential[1:33]
    assert salt.hex() == FAST["hkdf_salt_volatile_fast"]
    keys = crypto.fast_keys(h("k_persistent_input", FAST), ctx, credential)
    assert keys.cryptogram is not None
    assert keys.cryptogram.hex() == FAST["cryptogram_sk"]
    assert keys.sk_reader.hex() == FAST["sk_reader"]
    assert keys.sk_device.hex() == FAST["sk_device"]
    sealed = crypto.seal_cryptogram(keys.cryptogram, h("cryptogram_plaintext", FAST))
    assert sealed.hex() == FAST["cryptogram_tag9d"]
    found = crypto.FastMatcher(ctx).find(
        sealed,
        [(b"\x04" + bytes(64), bytes(32)), (credential, h("k_persistent_input", FAST))],
        lambda pair: pair,
    )
    assert found is not None and found[0][0] == credential
    assert found[2] == h("cryptogram_plaintext", FAST)


# --- reader side: every command byte ---------------------------------------------------


def test_reader_side_standard_14_3_byte_for_byte() -> None:
    cache = Cache()
    cache.add(h("credential_public_key"))
    tx = _vector_reader(STANDARD, fast=False, cache=cache)
    assert tx.start().encode() == h("select_command")
    auth0 = tx.receive(h("select_response_data") + OK)
    assert isinstance(auth0, CommandApdu)
    assert auth0.encode() == h("auth0_command_apdu", STANDARD)
    auth1 = tx.receive(h("auth0_response_data", STANDARD) + OK)
    assert isinstance(auth1, CommandApdu)
    assert auth1.encode() == h("auth1_command_apdu", STANDARD)
    result = tx.receive(h("auth1_response_data_encrypted", STANDARD) + OK)
    assert not isinstance(result, CommandApdu)
    assert result.authenticated and result.flow == "standard" and result.error is None
    assert result.endpoint_public_key == h("credential_public_key")
    assert result.new_persistent_key == h("k_persistent", STANDARD)
    assert result.status is not None and result.status.signaling == b"\x00\x3f"
    # The close goes inside the channel: EXCHANGE, SKReader, reader IV counter 1.
    close = tx.finish(True)
    assert (close.cla, close.ins, close.le) == (0x80, c.INS_EXCHANGE, 256)
    sk_reader = h("hkdf_output_160", STANDARD)[:32]
    plain = AESGCM(sk_reader).decrypt(bytes(8) + b"\x00\x00\x00\x01", close.data, None)
    assert plain == encode_reader_status(c.READER_STATUS_GRANTED) == bytes.fromhex("97020101")


def test_reader_side_fast_14_4_finds_the_credential() -> None:
    cache = Cache()
    cache.add(b"\x04" + crypto.x_of(crypto.public_bytes(READER_KEY)) * 2, bytes(32))  # decoy
    cache.add(h("credential_public_key"), h("k_persistent_input", FAST))
    tx = _vector_reader(FAST, fast=True, cache=cache)
    tx.start()
    auth0 = tx.receive(h("select_response_data") + OK)
    assert isinstance(auth0, CommandApdu)
    fields = auth0.data
    assert fields.startswith(bytes.fromhex("4101014201015c0201008741"))
    assert h("reader_ephemeral_public_key", FAST) in fields
    assert h("transaction_identifier", FAST) in fields
    answer = (
        b"\x86\x41"
        + h("device_ephemeral_public_key", FAST)
        + b"\x9d\x40"
        + h("cryptogram_tag9d", FAST)
    )
    result = tx.receive(answer + OK)
    assert not isinstance(result, CommandApdu)
    assert result.authenticated and result.flow == "fast"
    assert result.endpoint_public_key == h("credential_public_key")
    close = tx.finish(True)
    plain = AESGCM(h("sk_reader", FAST)).decrypt(bytes(11) + b"\x01", close.data, None)
    assert plain == bytes.fromhex("97020101")


# --- device side: every answer byte ----------------------------------------------------


def test_device_side_standard_14_3_byte_for_byte() -> None:
    k = nonce_of(DEVICE_SIGNATURE, CREDENTIAL_KEY, DEVICE_SIGNED)
    store: dict[bytes, bytes] = {}
    device = vector_device(
        versions=(c.VERSION_1_0,),
        persistent_keys=store,
        rng=scripted_rng(h("device_ephemeral_private_key", STANDARD)),
        signer=fixed_nonce_signer(CREDENTIAL_KEY, k),
    )
    assert device.process(h("select_command")) == h("select_response_data") + OK
    answer = device.process(h("auth0_command_apdu", STANDARD))
    assert answer == h("auth0_response_data", STANDARD) + OK
    answer = device.process(h("auth1_command_apdu", STANDARD))
    assert answer == h("auth1_response_data_encrypted", STANDARD) + OK
    # The device keeps the published persistent key for the group.
    assert store == {GROUP: h("k_persistent", STANDARD)}
    sk_reader = h("hkdf_output_160", STANDARD)[:32]
    exchange = AESGCM(sk_reader).encrypt(bytes(11) + b"\x01", bytes.fromhex("97020101"), None)
    reply = device.process(CommandApdu(0x80, c.INS_EXCHANGE, 0, 0, exchange, 256).encode())
    assert reply.endswith(OK) and device.granted
    sk_device = h("hkdf_output_160", STANDARD)[32:64]
    ack = AESGCM(sk_device).decrypt(bytes(7) + b"\x01" + b"\x00\x00\x00\x02", reply[:-2], None)
    assert ack == b"\x00\x02\x00\x00"


def test_device_side_fast_14_4_cryptogram_byte_for_byte() -> None:
    device = vector_device(
        versions=(c.VERSION_1_0,),
        persistent_keys={GROUP: h("k_persistent_input", FAST)},
        rng=scripted_rng(h("device_ephemeral_private_key", FAST)),
    )
    device.process(h("select_command"))
    auth0 = bytes.fromhex("80800000814101014201015c0201008741")
    auth0 += h("reader_ephemeral_public_key", FAST) + b"\x4c\x10"
    auth0 += h("transaction_identifier", FAST) + b"\x4d\x20" + h("reader_identifier") + b"\x00"
    answer = device.process(auth0)
    expected = (
        b"\x86\x41"
        + h("device_ephemeral_public_key", FAST)
        + b"\x9d\x40"
        + h("cryptogram_tag9d", FAST)
    )
    assert answer == expected + OK
    assert COMMON["reader_identifier"] == (GROUP + SUB).hex()
