"""Aliro 1.0 cryptography as pure functions: keys, derivations, signatures, secure channel.

All of it is published (see ``docs/aliro.md`` for the map and the known-answer tests in
``tests/proto/aliro/test_aliro_vectors.py``):

* K_dh = X9.63-KDF-SHA256(ECDH x-coordinate of the ephemeral keys, sharedinfo =
  transaction identifier, 32 bytes).
* salt(label) = reader long-term public key X || label || reader identifier || interface
  byte (5E NFC, C3 BLE) || ``5C 02 <version>`` || reader ephemeral X || transaction id ||
  AUTH0 tag 41 value || AUTH0 tag 42 value || the A5 TLV of the device's FCI.
* STANDARD: HKDF-SHA256(K_dh, salt("Volatile****"), info = device ephemeral X [|| B1/B2
  TLVs], 160) = SKReader | SKDevice | StepUpSK | BleSK | URSK.
* Kpersistent = HKDF-SHA256(K_dh, salt("Persistent**") || credential public key X, info,
  32), kept by both sides after a successful STANDARD run.
* FAST: HKDF-SHA256(Kpersistent, salt("VolatileFast") || credential public key X, info,
  160) = CryptogramSK | SKReader | SKDevice | BleSK | URSK; the 9D cryptogram is
  AES-256-GCM under CryptogramSK with a zero IV of the TLVs 5E(2) 91(20) 92(20).
* Signatures: ECDSA P-256 / SHA-256, raw r || s, over ``4D rid, 86 device eph X, 87 reader
  eph X, 4C tid, 93 usage`` (usage 415D9569 reader, 4E887B4C device).
* Secure channel: AES-256-GCM, IV = 8-byte direction prefix (reader all zero, device
  00..01) || 4-byte big-endian counter from 1, 16-byte tag appended.

"Reader long-term public key" is the key the device was provisioned with for the reader
group named in 4D: the group key itself, or the issuer key of reader certificates. The
device needs it at AUTH0 (for FAST), before any certificate arrives.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

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
from passgate.proto.tlv import encode_many, encode_tlv

Rng = Callable[[int], bytes]
Signer = Callable[[bytes], bytes]  # message -> raw r || s (a reader key may live in an SE)
T = TypeVar("T")

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
READER_TO_DEVICE = bytes(8)
DEVICE_TO_READER = bytes(7) + b"\x01"
MAX_COUNTER = 0xFFFFFFFF
GCM_TAG_LEN = 16
ZERO_IV = bytes(12)
_SHA256_BLOCK = 64
P256 = ec.SECP256R1()
ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_X962 = serialization.Encoding.X962
_UNCOMPRESSED = serialization.PublicFormat.UncompressedPoint


# --- keys -------------------------------------------------------------------------------


def private_key_from_rng(rng: Rng = os.urandom) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key whose scalar comes from ``rng`` (so tests can fix it).

    With the system's randomness the library generates the key itself (faster than
    deriving one from a drawn scalar, and the same distribution).
    """
    if rng is os.urandom:
        return ec.generate_private_key(P256)
    for _ in range(16):
        scalar = int.from_bytes(rng(32), "big")
        if 0 < scalar < P256_ORDER:
            return ec.derive_private_key(scalar, P256)
    # Sixteen out-of-range draws from a 32-byte source only happen with a broken rng.
    raise AliroError("random source keeps returning out-of-range scalars")


def public_bytes(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> bytes:
    """Uncompressed SEC1 point (65 bytes)."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(_X962, _UNCOMPRESSED)


def ephemeral_point(private_key: ec.EllipticCurvePrivateKey) -> bytes:
    """The uncompressed point of a private key (:func:`public_bytes` without the type
    test, for the ephemeral key of every transaction)."""
    return private_key.public_key().public_bytes(_X962, _UNCOMPRESSED)


def load_public_key(raw: bytes) -> ec.EllipticCurvePublicKey:
    """Parse an uncompressed P-256 point, refusing anything else (including off-curve)."""
    if len(raw) != c.PUBLIC_KEY_LEN or raw[0] != 0x04:
        raise AliroError("public key must be an uncompressed P-256 point", field="public_key")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(P256, raw)
    except ValueError as exc:
        raise AliroError("public key is not a point on P-256", field="public_key") from exc


def x_of(raw_public: bytes) -> bytes:
    return raw_public[1:33]


def ecdh(private_key: ec.EllipticCurvePrivateKey, peer: ec.EllipticCurvePublicKey) -> bytes:
    """Shared X coordinate (32 bytes)."""
    return private_key.exchange(ec.ECDH(), peer)


def key_slot(public_key: bytes) -> bytes:
    """Tag 4E: the first 8 bytes of SHA-1 of the credential's uncompressed public key."""
    return hashlib.sha1(public_key, usedforsecurity=False).digest()[: c.KEY_SLOT_LEN]


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
class Context:
    """What both sides agree on once AUTH0 has been answered; it feeds every derivation."""

    reader_key_x: bytes  # X of the group (or certificate issuer) public key, 32 bytes
    reader_id: bytes  # group identifier || sub-identifier, 32 bytes
    version: int
    reader_ephemeral: bytes  # 65-byte point
    transaction_id: bytes
    flags: int
    policy: int
    fci_proprietary: bytes  # the whole A5 TLV (tag, length, value) as the device sent it
    device_ephemeral: bytes  # 65-byte point
    interface: int = c.INTERFACE_NFC
    extensions: bytes = b""  # B1 / B2 TLVs of AUTH0 and its answer, as sent

    def salt(self, label: bytes) -> bytes:
        return b"".join(
            (
                self.reader_key_x,
                label,
                self.reader_id,
                bytes([self.interface]),
                encode_tlv(c.TAG_VERSIONS, self.version.to_bytes(2, "big")),
                x_of(self.reader_ephemeral),
                self.transaction_id,
                bytes([self.flags, self.policy]),
                self.fci_proprietary,
            )
        )

    @property
    def info(self) -> bytes:
        return x_of(self.device_ephemeral) + self.extensions

    def signed_data(self, usage: bytes) -> bytes:
        """What the reader (usage 415D9569) or the device (4E887B4C) signs."""
        return encode_many(
            (
                (c.TAG_READER_ID, self.reader_id),
                (c.TAG_DEVICE_EPHEMERAL_KEY, x_of(self.device_ephemeral)),
                (c.TAG_READER_EPHEMERAL_KEY, x_of(self.reader_ephemeral)),
                (c.TAG_TRANSACTION_ID, self.transaction_id),
                (c.TAG_USAGE, usage),
            )
        )


@dataclass(frozen=True)
class SessionKeys:
    """The keys of one transaction. ``cryptogram`` is set for FAST, ``step_up`` for STANDARD."""

    sk_reader: bytes
    sk_device: bytes
    ble: bytes
    ursk: bytes
    step_up: bytes | None = None
    cryptogram: bytes | None = None


def k_dh(shared_x: bytes, transaction_id: bytes) -> bytes:
    """X9.63-KDF of 32 bytes: exactly one SHA-256 block, ``x963_kdf(..., 32)``."""
    return hashlib.sha256(shared_x + b"\x00\x00\x00\x01" + transaction_id).digest()


def standard_keys(kdh: bytes, ctx: Context) -> SessionKeys:
    okm = hkdf_sha256(kdh, ctx.salt(c.LABEL_VOLATILE), ctx.info, 5 * c.KEY_LEN)
    return SessionKeys(okm[0:32], okm[32:64], okm[96:128], okm[128:160], step_up=okm[64:96])


def persistent_key(kdh: bytes, ctx: Context, credential_public_key: bytes) -> bytes:
    salt = ctx.salt(c.LABEL_PERSISTENT) + x_of(credential_public_key)
    return hkdf_sha256(kdh, salt, ctx.info, c.KEY_LEN)


def fast_keys(kpersistent: bytes, ctx: Context, credential_public_key: bytes) -> SessionKeys:
    salt = ctx.salt(c.LABEL_FAST) + x_of(credential_public_key)
    okm = hkdf_sha256(kpersistent, salt, ctx.info, 5 * c.KEY_LEN)
    return _split_fast(okm)


def _split_fast(okm: bytes) -> SessionKeys:
    return SessionKeys(okm[32:64], okm[64:96], okm[96:128], okm[128:160], cryptogram=okm[0:32])


def _expand_rest(prk: bytes, first: bytes, info: bytes, blocks: int) -> bytes:
    """HKDF-Expand's blocks 2..n, given the pseudorandom key and the first block."""
    out, block = first, first
    for counter in range(2, blocks + 1):
        block = hmac.digest(prk, block + info + bytes([counter]), "sha256")
        out += block
    return out


def seal_cryptogram(cryptogram_sk: bytes, plaintext: bytes) -> bytes:
    return AESGCM(cryptogram_sk).encrypt(ZERO_IV, plaintext, None)


def open_cryptogram(cryptogram_sk: bytes, cryptogram: bytes) -> bytes | None:
    try:
        return AESGCM(cryptogram_sk).decrypt(ZERO_IV, cryptogram, None)
    except InvalidTag:
        return None


class FastMatcher:
    """Finds which candidate's Kpersistent made a received 9D, trying each in turn.

    A reader may hold many persistent keys. Per candidate it computes only CryptogramSK
    (the first HKDF block) and tries to open the cryptogram: the long salt prefix is hashed
    once per transaction (HMAC hashes a key longer than its block; the candidate's key X is
    the only per-candidate part), and AES-GCM's tag decides the match. The remaining keys
    are derived for the one candidate that matched.
    """

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._prefix = hashlib.sha256(ctx.salt(c.LABEL_FAST))
        self._block_input = ctx.info + b"\x01"  # HKDF-Expand's first block: T(1)

    def find(
        self,
        cryptogram: bytes,
        candidates: Iterable[T],
        key_of: Callable[[T], tuple[bytes, bytes]],
    ) -> tuple[T, SessionKeys, bytes] | None:
        """``key_of(candidate)`` -> (credential public key, Kpersistent)."""
        if len(cryptogram) != c.CRYPTOGRAM_LEN:
            return None
        for candidate in candidates:
            public_key, kpersistent = key_of(candidate)
            h = self._prefix.copy()
            h.update(x_of(public_key))
            prk = hmac.digest(h.digest(), kpersistent, "sha256")
            cryptogram_sk = hmac.digest(prk, self._block_input, "sha256")
            plaintext = open_cryptogram(cryptogram_sk, cryptogram)
            if plaintext is not None:
                okm = _expand_rest(prk, cryptogram_sk, self._ctx.info, 5)
                return candidate, _split_fast(okm), plaintext
        return None


# --- signatures -------------------------------------------------------------------------


def key_signer(private_key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(message: bytes) -> bytes:
        return sign_raw(private_key, message)

    return sign


def sign_raw(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA P-256 / SHA-256 as 64 raw bytes r || s."""
    der = private_key.sign(message, ECDSA_SHA256)
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def raw_to_der(signature: bytes) -> bytes | None:
    if len(signature) != c.SIGNATURE_LEN:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < P256_ORDER and 0 < s < P256_ORDER):
        return None
    return encode_dss_signature(r, s)


def verify_der(public_key: ec.EllipticCurvePublicKey, der: bytes, message: bytes) -> bool:
    try:
        public_key.verify(der, message, ECDSA_SHA256)
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_raw(public_key: ec.EllipticCurvePublicKey, signature: bytes, message: bytes) -> bool:
    der = raw_to_der(signature)
    return der is not None and verify_der(public_key, der, message)


def verify_any(keys: Sequence[ec.EllipticCurvePublicKey], signature: bytes, message: bytes) -> bool:
    return any(verify_raw(key, signature, message) for key in keys)


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
        self._send_key = send_key
        self._recv_key = recv_key
        # Each AES-GCM key is set up on its first use (a reader's STANDARD run only opens
        # the AUTH1 answer here; it seals its one EXCHANGE itself).
        self._send: AESGCM | None = None
        self._recv: AESGCM | None = None
        self._send_dir = send_dir
        self._recv_dir = recv_dir
        self._send_counter = 1
        self._recv_counter = 1
        self._closed = False

    @classmethod
    def for_reader(cls, keys: SessionKeys) -> SecureChannel:
        return cls(keys.sk_reader, READER_TO_DEVICE, keys.sk_device, DEVICE_TO_READER)

    @classmethod
    def for_device(cls, keys: SessionKeys) -> SecureChannel:
        return cls(keys.sk_device, DEVICE_TO_READER, keys.sk_reader, READER_TO_DEVICE)

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
        if self._send is None:
            self._send = AESGCM(self._send_key)
        return self._send.encrypt(iv, plaintext, None)

    def open(self, ciphertext: bytes) -> bytes:
        if self._closed:
            raise AliroError("secure channel is closed")
        if self._recv_counter > MAX_COUNTER or len(ciphertext) < GCM_TAG_LEN:
            self._closed = True
            raise AliroError("secure channel message rejected")
        iv = channel_iv(self._recv_dir, self._recv_counter)
        if self._recv is None:
            self._recv = AESGCM(self._recv_key)
        try:
            plaintext = self._recv.decrypt(iv, ciphertext, None)
        except InvalidTag as exc:
            self._closed = True
            raise AliroError("secure channel message rejected") from exc
        self._recv_counter += 1
        return plaintext
