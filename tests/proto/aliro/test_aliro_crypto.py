"""Known-answer tests for the Aliro derivations and the secure channel.

Vectors were computed once by this code; the standard primitives are cross-checked against
independent implementations (cryptography's X963KDF, HKDF, ECDH and AESGCM, and RFC 5869)
so the vectors are not merely self-referential.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.aliro.messages import build_fci

H = bytes.fromhex
READER_EPH = ec.derive_private_key(0x1111, ec.SECP256R1())
DEVICE_EPH = ec.derive_private_key(0x2222, ec.SECP256R1())
TXID = bytes(range(16))
READER_ID = bytes(range(32))

Z = H("19cfbcaa5b6f16b6d0d45634acd7aaa05b764a17e520771158a8db8688ba1f87")
FCI = H("6f1e8409a000000909acce5501a511800200005c04010000097f660402020000")
K_X963 = H("8a7aeb992311472c7bd6b3f691616affa3aba4f06ef0b0baf8b89d993d1a60a8")
SK_READER = H("8c7de817350a0a78c814dc3d386a61a6fe76cbb05fe0c80f1eb6a470c99e7528")
SK_DEVICE = H("908dc0941bb9a6c6cb955dde7626d545e66fe1c569d9af554405901c5423ff05")
PERSISTENT = H("1139c6bf3175fca4f9af098d2718a9593c48340fc6450940ab81a108cbdf68ac")
FAST = H(
    "83c10a84bbedb54068b0cab8af0810e587b15352d83707c74a210d0a7f6eb0f1"
    "86fe90cbe420d292d4750b13f21170a8672e9915c91a3cc5ce9da6156faf955f"
)
SIGNING_COMMON = (
    "4d20000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "8620a62f048f367359809c2d46c2049d7d7bf268c3c073c472753cb18a24a8ad20b1"
    "87200dcc7648c78a3118f2612866fe83ef19f40304f623399e1211a10f2b3d1c05cf"
    "4c10000102030405060708090a0b0c0d0e0f"
)


def context() -> crypto.TransactionContext:
    return crypto.TransactionContext(
        reader_id=READER_ID,
        reader_ephemeral=crypto.public_bytes(READER_EPH),
        device_ephemeral=crypto.public_bytes(DEVICE_EPH),
        transaction_id=TXID,
        version=0x0100,
        flags=1,
        transaction_code=0,
        fci=build_fci(),
    )


def test_fci_vector() -> None:
    assert build_fci() == FCI


def test_ecdh_both_directions_agree_with_vector() -> None:
    assert crypto.ecdh(READER_EPH, DEVICE_EPH.public_key()) == Z
    assert crypto.ecdh(DEVICE_EPH, READER_EPH.public_key()) == Z


def test_x963_vector_and_cross_check() -> None:
    assert crypto.x963_kdf(Z, TXID, 32) == K_X963
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


def test_context_encoding_layout() -> None:
    ctx = context()
    encoded = ctx.encode()
    assert encoded[:32] == READER_ID
    assert encoded[32:64] == crypto.public_bytes(READER_EPH)[1:33]
    assert encoded[64:96] == crypto.public_bytes(DEVICE_EPH)[1:33]
    assert encoded[96:112] == TXID
    assert encoded[112:116] == H("01000100")
    assert encoded[116:] == FCI


def test_standard_keys_vector_and_composition() -> None:
    keys = crypto.derive_standard_keys(Z, TXID, context().encode())
    assert keys.reader_to_device == SK_READER
    assert keys.device_to_reader == SK_DEVICE
    assert keys.persistent == PERSISTENT
    ref = HKDF(hashes.SHA256(), 96, context().encode(), crypto.INFO_STANDARD).derive(K_X963)
    assert ref == SK_READER + SK_DEVICE + PERSISTENT


def test_keys_depend_on_every_context_field() -> None:
    base = context()
    variants = [
        crypto.TransactionContext(**{**base.__dict__, "version": 0x0009}),
        crypto.TransactionContext(**{**base.__dict__, "flags": 0}),
        crypto.TransactionContext(**{**base.__dict__, "transaction_code": 1}),
        crypto.TransactionContext(**{**base.__dict__, "fci": FCI[:-1] + b"\x01"}),
        crypto.TransactionContext(**{**base.__dict__, "reader_id": bytes(32)}),
    ]
    ref = crypto.derive_standard_keys(Z, TXID, base.encode())
    for v in variants:
        assert crypto.derive_standard_keys(Z, TXID, v.encode()) != ref
        assert crypto.fast_cryptogram(PERSISTENT, v.encode()) != FAST


def test_fast_cryptogram_vector() -> None:
    assert crypto.fast_cryptogram(PERSISTENT, context().encode()) == FAST
    ref = HKDF(hashes.SHA256(), 64, context().encode(), crypto.INFO_FAST).derive(PERSISTENT)
    assert ref == FAST


def test_fast_matcher_agrees_with_cryptogram() -> None:
    for ctx in (context().encode(), b"short salt", b""):
        matcher = crypto.FastMatcher(ctx)
        good = crypto.fast_cryptogram(PERSISTENT, ctx)
        assert matcher.matches(PERSISTENT, good)
        assert not matcher.matches(SK_READER, good)
        assert not matcher.matches(PERSISTENT, good[:32] + bytes(32))  # second half checked
        assert not matcher.matches(PERSISTENT, bytes(32) + good[32:])
        assert not matcher.matches(PERSISTENT, good[:-1])


def test_signing_inputs_vector() -> None:
    assert crypto.reader_signing_input(context()) == H(SIGNING_COMMON + "9304415d9569")
    assert crypto.device_signing_input(context()) == H(SIGNING_COMMON + "93044e887b4c")


def test_sign_verify_raw() -> None:
    key = ec.derive_private_key(0x5151, ec.SECP256R1())
    msg = crypto.reader_signing_input(context())
    sig = crypto.sign_raw(key, msg)
    assert len(sig) == 64
    assert crypto.verify_raw(key.public_key(), sig, msg)
    assert not crypto.verify_raw(key.public_key(), sig, crypto.device_signing_input(context()))
    assert not crypto.verify_raw(READER_EPH.public_key(), sig, msg)
    assert not crypto.verify_raw(key.public_key(), sig[:-1], msg)
    assert not crypto.verify_raw(key.public_key(), bytes(64), msg)
    assert not crypto.verify_raw(key.public_key(), b"\xff" * 64, msg)


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
    return crypto.SessionKeys(SK_READER, SK_DEVICE, PERSISTENT)


def test_channel_iv_layout_matches_plain_aes_gcm() -> None:
    reader = crypto.SecureChannel.for_reader(keys())
    sealed = reader.seal(b"hello")
    assert sealed == H("4302b45331b2823e36b9cfe653c688171bec66da58")
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
