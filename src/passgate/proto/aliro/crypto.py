"""Aliro-style cryptography as pure functions: keys, derivations, signatures, secure channel.

The public write-up (github.com/kormax/aliro) documents the messages but leaves the
cryptographic details "to be provided later". It does say: P-256 ephemeral keys in AUTH0,
an HMAC-SHA256 cryptogram for FAST, ECDSA signatures over common transaction data in
AUTH1, a secure context established by AUTH1, and that the full FCI from SELECT feeds the
derivations. PROTOCOLS.md adds: X9.63 KDF (SHA-256) keyed by the ECDH secret with the
transaction id, then HKDF-SHA256; AES-GCM with per-direction keys and a 12-byte IV of an
8-byte direction marker and a 4-byte counter. Everything below that is not one of those
facts is **our choice**, modelled on the UnifiedAccess family the write-up says Aliro
follows, and fixed here so an independent implementation can match it:

* Transaction context (our choice) = reader id (32) || reader ephemeral X (32) ||
  device ephemeral X (32) || transaction id (16) || version (2) || AUTH0 flags (1) ||
  transaction code (1) || the FCI template exactly as the device sent it. It salts every
  HKDF, so a man in the middle who strips versions or capabilities, flips FAST off, or
  swaps lock for unlock makes the two sides derive different keys.
* STANDARD keys: Z = ECDH(ephemeral keys) X coordinate; K = X9.63-KDF-SHA256(Z,
  sharedinfo = transaction id, 32 bytes); then HKDF-SHA256(ikm = K, salt = context,
  info = ``AliroSTANDARD``, 96 bytes) split into reader-to-device key, device-to-reader key
  and the persistent key (our choice of split and label).
* FAST cryptogram (tag 9D, 64 bytes, our choice) = HKDF-SHA256(ikm = persistent key, salt =
  context, info = ``AliroFASTCryptogram``, 64 bytes). It is bound to this transaction's
  nonce and both ephemeral keys, so a recorded cryptogram never verifies again.
* Signing inputs (our choice, as in UnifiedAccess): TLV 4D reader id, 86 device ephemeral
  X, 87 reader ephemeral X, 4C transaction id, 93 usage marker; the marker differs for the
  reader (``415D9569``) and the device (``4E887B4C``) so one side's signature can never be
  replayed as the other's. ECDSA P-256 with SHA-256, raw r || s.
* Secure channel: AES-256-GCM, no associated data, 16-byte tag appended. IV = 8-byte
  direction marker (reader to device all zero, device to reader ``00..01``) || 4-byte
  big-endian counter starting at 1. The counter is implicit: the receiver decrypts with the
  counter it expects next, so a replayed, dropped or reordered message fails
  authentication, and the channel then closes for good.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from passgate.proto.aliro import constants as c
from passgate.proto.aliro.errors import AliroError
from passgate.proto.tlv import encode_many

Rng = Callable[[int], bytes]

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
READER_USAGE = bytes.fromhex("415D9569")
DEVICE_USAGE = bytes.fromhex("4E887B4C")
INFO_STANDARD = b"AliroSTANDARD"
INFO_FAST = b"AliroFASTCryptogram"
READER_TO_DEVICE = bytes(8)
DEVICE_TO_READER = bytes(7) + b"\x01"
MAX_COUNTER = 0xFFFFFFFF
GCM_TAG_LEN = 16
_SHA256_BLOCK = 64


# --- keys -------------------------------------------------------------------------------


def private_key_from_rng(rng: Rng = os.urandom) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key whose scalar comes from ``rng`` (so tests can fix it)."""
    for _ in range(16):
        scalar = int.from_bytes(rng(32), "big")
        if 0 < scalar < P256_ORDER:
            return ec.derive_private_key(scalar, ec.SECP256R1())
    # Sixteen out-of-range draws from a 32-byte source only happen with a broken rng.
    raise AliroError("random source keeps returning out-of-range scalars")


def public_bytes(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
    """Uncompressed SEC1 point (65 bytes)."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def load_public_key(raw: bytes) -> ec.EllipticCurvePublicKey:
    """Parse an uncompressed P-256 point, refusing anything else (including off-curve)."""
    if len(raw) != c.PUBLIC_KEY_LEN or raw[0] != 0x04:
        raise AliroError("public key must be an uncompressed P-256 point", field="public_key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise AliroError("public key is not a point on P-256", field="public_key") from exc


def x_of(raw_public: bytes) -> bytes:
    return raw_public[1:33]


def ecdh(private_key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey) -> bytes:
    """Shared X coordinate (32 bytes)."""
    return private_key.exchange(ec.ECDH(), peer)


# --- KDFs -------------------------------------------------------------------------------


def x963_kdf(secret: bytes, shared_info: bytes, length: int) -> bytes:
    """ANSI X9.63 KDF with SHA-256: SHA-256(secret || counter32 || shared_info) blocks."""
    out = b""
    counter = 1
    while len(out) < length:
        out += hashlib.sha256(secret + counter.to_bytes(4, "big") + shared_info).digest()
        counter += 1
    return out[:length]


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF (extract then expand) with SHA-256."""
    if length > 255 * 32:
        raise AliroError("HKDF output too long", field="length")
    prk = hmac.digest(salt if salt else bytes(32), ikm, "sha256")
    out = b""
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        out += block
        counter += 1
    return out[:length]


@dataclass(frozen=True)
class TransactionContext:
    """Everything both sides agree on after AUTH0; its encoding salts every derivation."""

    reader_id: bytes
    reader_ephemeral: bytes  # 65-byte point
    device_ephemeral: bytes  # 65-byte point
    transaction_id: bytes
    version: int
    flags: int
    transaction_code: int
    fci: bytes

    def encode(self) -> bytes:
        return b"".join(
            (
                self.reader_id,
                x_of(self.reader_ephemeral),
                x_of(self.device_ephemeral),
                self.transaction_id,
                self.version.to_bytes(2, "big"),
                bytes((self.flags, self.transaction_code)),
                self.fci,
            )
        )


@dataclass(frozen=True)
class SessionKeys:
    reader_to_device: bytes
    device_to_reader: bytes
    persistent: bytes


def derive_standard_keys(shared_x: bytes, transaction_id: bytes, context: bytes) -> SessionKeys:
    """STANDARD flow keys from the ephemeral ECDH secret (see module docstring)."""
    k = x963_kdf(shared_x, transaction_id, c.KEY_LEN)
    okm = hkdf_sha256(k, context, INFO_STANDARD, 3 * c.KEY_LEN)
    return SessionKeys(okm[:32], okm[32:64], okm[64:96])


def fast_cryptogram(persistent_key: bytes, context: bytes) -> bytes:
    """The 9D value a device with this persistent key must send in this transaction."""
    return hkdf_sha256(persistent_key, context, INFO_FAST, c.CRYPTOGRAM_LEN)


class FastMatcher:
    """Checks a received 9D against many candidate persistent keys, cheaply.

    The reader may hold thousands of persistent keys and must try them in turn. Two exact
    shortcuts keep that cheap: HMAC hashes a key longer than its block, so the long context
    salt is hashed once here instead of once per candidate; and the first 32-byte HKDF
    block is compared before the second is computed, so a non-matching candidate costs two
    HMACs. A match still compares the full 64 bytes, in constant time.
    """

    def __init__(self, context: bytes) -> None:
        salt = context if context else bytes(32)
        self._salt = hashlib.sha256(salt).digest() if len(salt) > _SHA256_BLOCK else salt

    def matches(self, persistent_key: bytes, cryptogram: bytes) -> bool:
        if len(cryptogram) != c.CRYPTOGRAM_LEN:
            return False
        prk = hmac.digest(self._salt, persistent_key, "sha256")
        first = hmac.digest(prk, INFO_FAST + b"\x01", "sha256")
        if not hmac.compare_digest(first, cryptogram[:32]):
            return False
        second = hmac.digest(prk, first + INFO_FAST + b"\x02", "sha256")
        return hmac.compare_digest(first + second, cryptogram)


# --- signatures -------------------------------------------------------------------------


def signing_input(ctx: TransactionContext, usage: bytes) -> bytes:
    return encode_many(
        (
            (c.TAG_READER_ID, ctx.reader_id),
            (c.TAG_DEVICE_EPHEMERAL_KEY, x_of(ctx.device_ephemeral)),
            (c.TAG_READER_EPHEMERAL_KEY, x_of(ctx.reader_ephemeral)),
            (c.TAG_TRANSACTION_ID, ctx.transaction_id),
            (c.TAG_USAGE, usage),
        )
    )


def reader_signing_input(ctx: TransactionContext) -> bytes:
    return signing_input(ctx, READER_USAGE)


def device_signing_input(ctx: TransactionContext) -> bytes:
    return signing_input(ctx, DEVICE_USAGE)


def sign_raw(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256 as 64 raw bytes r || s."""
    der = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    if len(signature) != c.SIGNATURE_LEN:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        return False
    try:
        public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --- secure channel ---------------------------------------------------------------------


def channel_iv(direction: bytes, counter: int) -> bytes:
    return direction + counter.to_bytes(4, "big")


class SecureChannel:
    """One side's view of the AES-GCM channel: its own send and receive counters.

    Counters only move forward. A message that fails to open (tampered, replayed, out of
    order) closes the channel: after that the peer is either hostile or desynchronised and
    nothing more it sends may be trusted.
    """

    def __init__(self, send_key: bytes, send_dir: bytes, recv_key: bytes, recv_dir: bytes) -> None:
        self._send = AESGCM(send_key)
        self._recv = AESGCM(recv_key)
        self._send_dir = send_dir
        self._recv_dir = recv_dir
        self._send_counter = 1
        self._recv_counter = 1
        self._closed = False

    @classmethod
    def for_reader(cls, keys: SessionKeys) -> SecureChannel:
        return cls(keys.reader_to_device, READER_TO_DEVICE, keys.device_to_reader, DEVICE_TO_READER)

    @classmethod
    def for_device(cls, keys: SessionKeys) -> SecureChannel:
        return cls(keys.device_to_reader, DEVICE_TO_READER, keys.reader_to_device, READER_TO_DEVICE)

    @property
    def closed(self) -> bool:
        return self._closed

    def seal(self, plaintext: bytes) -> bytes:
        if self._closed:
            raise AliroError("secure channel is closed")
        if self._send_counter > MAX_COUNTER:
            self._closed = True
            raise AliroError("secure channel counter exhausted")
        iv = channel_iv(self._send_dir, self._send_counter)
        self._send_counter += 1
        return self._send.encrypt(iv, plaintext, None)

    def open(self, ciphertext: bytes) -> bytes:
        if self._closed:
            raise AliroError("secure channel is closed")
        if self._recv_counter > MAX_COUNTER or len(ciphertext) < GCM_TAG_LEN:
            self._closed = True
            raise AliroError("secure channel message rejected")
        iv = channel_iv(self._recv_dir, self._recv_counter)
        try:
            plaintext = self._recv.decrypt(iv, ciphertext, None)
        except InvalidTag as exc:
            self._closed = True
            raise AliroError("secure channel message rejected") from exc
        self._recv_counter += 1
        return plaintext
