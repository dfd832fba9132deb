"""The Aliro primitives against independent implementations, and the secure channel.

The published known answers live in test_aliro_vectors.py; here the KDFs are cross-checked
against cryptography's X963KDF and HKDF and RFC 5869, and every field of the context is
shown to reach the keys.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import build_fci, parse_fci

H = bytes.fromhex
READER_EPH = ec.derive_private_key(0x1111, ec.SECP256R1())
DEVICE_EPH = ec.derive_private_key(0x2222, ec.SECP256R1())
TXID = bytes(range(16))
Z = crypto.ecdh(READER_EPH, DEVICE_EPH.public_key())
K_X963 = X963KDF(hashes.SHA256(), 32, TXID).derive(Z)
SK_READER = bytes(range(32))
SK_DEVICE = bytes(range(32, 64))


def context(**changes: object) -> crypto.Context:
    fields: dict[str, object] = {
        "reader_key_x": bytes(range(32)),
        "reader_id": bytes(range(32, 64)),
        "version": 0x0100,
        "reader_ephemeral": crypto.public_bytes(READER_EPH),
        "transaction_id": TXID,
        "flags": 1,
        "policy": 1,
        "fci_proprietary": parse_fci(build_fci()).proprietary,
        "device_ephemeral": crypto.public_bytes(DEVICE_EPH),
    }
    fields.update(changes)
    return crypto.Context(**fields)  # type: ignore[arg-type]


def test_ecdh_both_directions_agree() -> None:
    assert crypto.ecdh(DEVICE_EPH, READER_EPH.public_key()) == Z


def test_x963_cross_check() -> None:
    for length in (16, 32, 33, 96):
        ref = X963KDF(hashes.SHA256(), length, TXID).derive(Z)
        assert crypto.x963_kdf(Z, TXID, length) == ref


def test_hkdf_rfc5869_case_1() -> None:
    okm = crypto.hkdf_sha256(
        H("0b" * 22), H("000102030405060708090a0b0c"), H("f0f1f2f3f4f5f6f7f8f9"), 42
    )
    assert okm == H(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )


@pytest.mark.parametrize("salt", [b"", b"s", bytes(200)])
def test_hkdf_cross_check(salt: bytes) -> None:
    ref = HKDF(hashes.SHA256(), 96, salt or None, b"info").derive(K_X963)
    assert crypto.hkdf_sha256(K_X963, salt, b"info", 96) == ref


def test_hkdf_refuses_huge_output() -> None:
    with pytest.raises(AliroError):
        crypto.hkdf_sha256(b"k", b"s", b"i", 255 * 32 + 1)


def test_private_key_from_rng_is_deterministic_and_skips_bad_scalars() -> None:
    draws = iter([b"\xff" * 32, bytes(32), (0x1111).to_bytes(32, "big")])
    key = crypto.private_key_from_rng(lambda n: next(draws))
    assert crypto.public_bytes(key) == crypto.public_bytes(READER_EPH)
    with pytest.raises(AliroError):
        crypto.private_key_from_rng(lambda n: bytes(n))


def test_load_public_key_rejects_bad_points() -> None:
    good = crypto.public_bytes(READER_EPH)
    assert crypto.public_bytes(crypto.load_public_key(good)) == good
    for bad in (good[:-1], b"\x02" + good[1:33], good[:-1] + bytes([good[-1] ^ 1]), bytes(65)):
        with pytest.raises(AliroError):
            crypto.load_public_key(bad)


def keys() -> crypto.SessionKeys:
    return crypto.SessionKeys(SK_READER, SK_DEVICE, bytes(32), bytes(32))


def test_channel_iv_layout_matches_plain_aes_gcm() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    sealed = reader.seal(b"hello")
    assert AESGCM(SK_READER).decrypt(bytes(8) + H("00000001"), sealed, None) == b"hello"
    device = crypto.SecureChannel.for_device(keys())
    answer = device.seal(b"world")
    assert AESGCM(SK_DEVICE).decrypt(H("0000000000000001") + H("00000001"), answer, None) == (
        b"world"
    )
    second = device.seal(b"again")
    assert AESGCM(SK_DEVICE).decrypt(H("000000000000000100000002"), second, None) == b"again"


def test_channel_round_trip_both_directions() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    device = crypto.SecureChannel.for_device(keys())
    for i in range(3):
        assert device.open(reader.seal(b"r%d" % i)) == b"r%d" % i
        assert reader.open(device.seal(b"d%d" % i)) == b"d%d" % i


def test_channel_rejects_replay_and_closes() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    device = crypto.SecureChannel.for_device(keys())
    msg = reader.seal(b"once")
    assert device.open(msg) == b"once"
    with pytest.raises(AliroError):
        device.open(msg)
    assert device.closed
    with pytest.raises(AliroError):
        device.open(reader.seal(b"next"))
    with pytest.raises(AliroError):
        device.seal(b"anything")


def test_channel_rejects_out_of_order() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    device = crypto.SecureChannel.for_device(keys())
    first, second = reader.seal(b"1"), reader.seal(b"2")
    with pytest.raises(AliroError):
        device.open(second)
    with pytest.raises(AliroError):
        device.open(first)  # closed after the failure


def test_channel_rejects_own_direction_and_tampering() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    own = reader.seal(b"mine")
    with pytest.raises(AliroError):
        crypto.SecureChannel.for_reader(keys()).open(own)  # reflected back at the reader
    device = crypto.SecureChannel.for_device(keys())
    with pytest.raises(AliroError):
        device.open(own[:-1] + bytes([own[-1] ^ 1]))
    with pytest.raises(AliroError):
        crypto.SecureChannel.for_device(keys()).open(b"short")


def test_channel_refuses_counter_wrap() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    reader._send_counter = crypto.MAX_COUNTER
    last = reader.seal(b"last")
    assert AESGCM(SK_READER).decrypt(bytes(8) + H("ffffffff"), last, None) == b"last"
    with pytest.raises(AliroError):
        reader.seal(b"wrapped")


def test_keys_depend_on_every_context_field() -> None:
    base = context()
    ref = crypto.standard_keys(K_X963, base)
    ref_fast = crypto.fast_keys(K_X963, base, crypto.public_bytes(READER_EPH))
    variants = {
        "reader_key_x": bytes(32),
        "reader_id": bytes(32),
        "version": 0x0009,
        "flags": 0,
        "policy": 2,
        "transaction_id": bytes(16),
        "fci_proprietary": base.fci_proprietary[:-1] + b"\x01",
        "device_ephemeral": crypto.public_bytes(READER_EPH),
        "interface": 0xC3,
        "extensions": b"\xb1\x01\x00",
    }
    for name, value in variants.items():
        changed = context(**{name: value})
        assert crypto.standard_keys(K_X963, changed) != ref, name
        assert crypto.fast_keys(K_X963, changed, crypto.public_bytes(READER_EPH)) != ref_fast


def test_standard_keys_are_one_hkdf_split_in_five() -> None:
    ctx = context()
    okm = HKDF(hashes.SHA256(), 160, ctx.salt(b"Volatile****"), ctx.info).derive(K_X963)
    keys = crypto.standard_keys(K_X963, ctx)
    assert keys.step_up is not None
    assert keys.sk_reader + keys.sk_device + keys.step_up + keys.ble + keys.ursk == okm
    assert keys.cryptogram is None


def test_fast_matcher_skips_wrong_candidates() -> None:
    ctx = context()
    credential = crypto.public_bytes(DEVICE_EPH)
    persistent = bytes(range(32))
    keys = crypto.fast_keys(persistent, ctx, credential)
    assert keys.cryptogram is not None
    sealed = crypto.seal_cryptogram(keys.cryptogram, bytes(48))
    candidates = [(credential, bytes(32)), (crypto.public_bytes(READER_EPH), persistent)]
    assert crypto.FastMatcher(ctx).find(sealed, candidates, lambda p: p) is None
    found = crypto.FastMatcher(ctx).find(
        sealed, [*candidates, (credential, persistent)], lambda p: p
    )
    assert found is not None and found[1] == keys
    assert crypto.FastMatcher(ctx).find(sealed[:-1], candidates, lambda p: p) is None


def test_sign_verify_raw_and_usage_separation() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    ctx = context()
    sig = crypto.sign_raw(key, ctx.signed_data(c.READER_USAGE))
    assert crypto.verify_raw(key.public_key(), sig, ctx.signed_data(c.READER_USAGE))
    assert not crypto.verify_raw(key.public_key(), sig, ctx.signed_data(c.DEVICE_USAGE))
    assert not crypto.verify_raw(key.public_key(), sig[:-1], ctx.signed_data(c.READER_USAGE))
    assert not crypto.verify_raw(key.public_key(), bytes(64), ctx.signed_data(c.READER_USAGE))
