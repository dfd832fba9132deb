"""Compressed reader certificates: a reader's own key, vouched for by the group issuer key.

Wire form (AUTH1 tag 90, or the data of LOAD CERTIFICATE)::

    30 { 04 profile (0000),
         30 { [80 serial] [81 issuer CN] [82 not before] [83 not after] [84 subject CN]
              85 subject public key (00 || 65-byte point)
              86 signature (00 || DER ECDSA) } }

Fields 80 to 84 are left out when they hold their default (serial 01, issuer "issuer",
not before 200101000000Z, not after 490101000000Z, subject "subject"); 85 and 86 carry
the contents of the X.509 BIT STRINGs (a leading unused-bits byte 00).

The signature is the issuer's ECDSA P-256 / SHA-256 over the X.509 TBSCertificate the
fields expand to: version v3, serial INTEGER, ecdsa-with-SHA256 (no parameters), issuer
and subject each one commonName UTF8String, validity as UTCTime (13 characters) or
GeneralizedTime (15), id-ecPublicKey / prime256v1, and the extensions authority key
identifier (SHA-1 of the issuer's 65-byte public key), basic constraints (critical, not a
CA) and key usage (critical, digitalSignature). The expansion is a standard X.509
certificate: tests parse it with a stock X.509 library and check the signature there too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import constants as c
from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.tlv import TlvError, decode_all, encode_tlv, unique_map

PROFILE = b"\x00\x00"
_SEQ, _SET, _INT, _BITS, _OCTETS, _OID, _UTF8, _UTC, _GEN, _BOOL = (
    0x30, 0x31, 0x02, 0x03, 0x04, 0x06, 0x0C, 0x17, 0x18, 0x01,
)  # fmt: skip
_OID_ECDSA_SHA256 = bytes.fromhex("2a8648ce3d040302")
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
_OID_P256 = bytes.fromhex("2a8648ce3d030107")
_OID_COMMON_NAME = bytes.fromhex("550403")
_OID_AUTHORITY_KEY_ID = bytes.fromhex("551d23")
_OID_BASIC_CONSTRAINTS = bytes.fromhex("551d13")
_OID_KEY_USAGE = bytes.fromhex("551d0f")
_KNOWN = frozenset(range(0x80, 0x87))

DEFAULT_SERIAL = 1
DEFAULT_ISSUER = "issuer"
DEFAULT_SUBJECT = "subject"
DEFAULT_NOT_BEFORE = datetime(2020, 1, 1, tzinfo=UTC)
DEFAULT_NOT_AFTER = datetime(2049, 1, 1, tzinfo=UTC)
MAX_SERIAL_BYTES = 20
MAX_NAME_BYTES = 32


@dataclass(frozen=True)
class ReaderCertificate:
    serial: int
    issuer: str
    not_before: datetime
    not_after: datetime
    subject: str
    public_key: bytes  # 65-byte point of the reader's own key
    signature: bytes  # DER

    # --- X.509 expansion ------------------------------------------------------------

    def tbs(self, issuer_public_key: bytes) -> bytes:
        """The TBSCertificate the issuer signed (its key names itself in the AKI)."""
        alg = encode_tlv(_SEQ, encode_tlv(_OID, _OID_ECDSA_SHA256))
        spki = encode_tlv(
            _SEQ,
            encode_tlv(_SEQ, encode_tlv(_OID, _OID_EC_PUBLIC_KEY) + encode_tlv(_OID, _OID_P256))
            + encode_tlv(_BITS, b"\x00" + self.public_key),
        )
        key_id = hashlib.sha1(issuer_public_key, usedforsecurity=False).digest()
        extensions = encode_tlv(
            _SEQ,
            _extension(_OID_AUTHORITY_KEY_ID, False, encode_tlv(_SEQ, encode_tlv(0x80, key_id)))
            + _extension(_OID_BASIC_CONSTRAINTS, True, encode_tlv(_SEQ, b""))
            + _extension(_OID_KEY_USAGE, True, encode_tlv(_BITS, b"\x07\x80")),
        )
        body = b"".join(
            (
                encode_tlv(0xA0, encode_tlv(_INT, b"\x02")),  # [0] EXPLICIT version v3
                encode_tlv(_INT, _integer(self.serial)),
                alg,
                _name(self.issuer),
                encode_tlv(_SEQ, _time(self.not_before) + _time(self.not_after)),
                _name(self.subject),
                spki,
                encode_tlv(0xA3, extensions),
            )
        )
        return encode_tlv(_SEQ, body)

    def x509_der(self, issuer_public_key: bytes) -> bytes:
        """The whole expanded certificate (for standard tools)."""
        alg = encode_tlv(_SEQ, encode_tlv(_OID, _OID_ECDSA_SHA256))
        tbs = self.tbs(issuer_public_key)
        return encode_tlv(_SEQ, tbs + alg + encode_tlv(_BITS, b"\x00" + self.signature))

    # --- compressed form --------------------------------------------------------------

    def encode(self) -> bytes:
        optional = (
            (0x80, _integer(self.serial), self.serial == DEFAULT_SERIAL),
            (0x81, self.issuer.encode(), self.issuer == DEFAULT_ISSUER),
            (0x82, _time_text(self.not_before), self.not_before == DEFAULT_NOT_BEFORE),
            (0x83, _time_text(self.not_after), self.not_after == DEFAULT_NOT_AFTER),
            (0x84, self.subject.encode(), self.subject == DEFAULT_SUBJECT),
        )
        body = b"".join(encode_tlv(tag, value) for tag, value, default in optional if not default)
        body += encode_tlv(0x85, b"\x00" + self.public_key)
        body += encode_tlv(0x86, b"\x00" + self.signature)
        return encode_tlv(_SEQ, encode_tlv(_OCTETS, PROFILE) + encode_tlv(_SEQ, body))

    @classmethod
    def parse(cls, data: bytes) -> ReaderCertificate:
        try:
            outer = decode_all(data)
            if len(outer) != 1 or outer[0].tag != _SEQ:
                raise AliroError("certificate is not one SEQUENCE", field="90")
            parts = outer[0].children()
            if len(parts) != 2 or parts[0].tag != _OCTETS or parts[1].tag != _SEQ:
                raise AliroError("certificate must hold a profile and a body", field="90")
            if parts[0].value != PROFILE:
                raise AliroError("unknown certificate profile", field="90")
            f = unique_map(parts[1].children())
        except TlvError as exc:
            raise AliroError(f"malformed certificate: {exc.message}", field="90") from exc
        if not set(f) <= _KNOWN or 0x85 not in f or 0x86 not in f:
            raise AliroError("certificate fields must be 80 to 86, with 85 and 86", field="90")
        key, signature = f[0x85], f[0x86]
        if len(key) != 1 + c.PUBLIC_KEY_LEN or key[0] != 0 or signature[:1] != b"\x00":
            raise AliroError("certificate key and signature are BIT STRING contents", field="90")
        crypto.load_public_key(key[1:])
        try:
            issuer = f[0x81].decode() if 0x81 in f else DEFAULT_ISSUER
            subject = f[0x84].decode() if 0x84 in f else DEFAULT_SUBJECT
        except UnicodeDecodeError as exc:
            raise AliroError("certificate names must be UTF-8", field="90") from exc
        if len(issuer.encode()) > MAX_NAME_BYTES or len(subject.encode()) > MAX_NAME_BYTES:
            raise AliroError("certificate names are at most 32 bytes", field="90")
        return cls(
            serial=_parse_integer(f[0x80]) if 0x80 in f else DEFAULT_SERIAL,
            issuer=issuer,
            not_before=_parse_time(f[0x82]) if 0x82 in f else DEFAULT_NOT_BEFORE,
            not_after=_parse_time(f[0x83]) if 0x83 in f else DEFAULT_NOT_AFTER,
            subject=subject,
            public_key=key[1:],
            signature=signature[1:],
        )

    def verify(self, issuer_key: ec.EllipticCurvePublicKey, now: datetime) -> bool:
        """Signed by ``issuer_key`` and valid at ``now``."""
        if not self.not_before <= now <= self.not_after:
            return False
        tbs = self.tbs(crypto.public_bytes(issuer_key))
        return crypto.verify_der(issuer_key, self.signature, tbs)


def issue(
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    public_key: bytes,
    serial: int = DEFAULT_SERIAL,
    issuer: str = DEFAULT_ISSUER,
    subject: str = DEFAULT_SUBJECT,
    not_before: datetime = DEFAULT_NOT_BEFORE,
    not_after: datetime = DEFAULT_NOT_AFTER,
) -> ReaderCertificate:
    """A reader certificate for ``public_key``, signed by the group issuer key."""
    crypto.load_public_key(public_key)
    for name in (issuer, subject):
        if not 0 < len(name.encode()) <= MAX_NAME_BYTES:
            raise AliroError("certificate names are 1 to 32 bytes", field="issuer")
    unsigned = ReaderCertificate(
        serial,
        issuer,
        not_before.replace(microsecond=0),
        not_after.replace(microsecond=0),
        subject,
        public_key,
        b"",
    )
    tbs = unsigned.tbs(crypto.public_bytes(issuer_key))
    signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return ReaderCertificate(
        unsigned.serial,
        issuer,
        unsigned.not_before,
        unsigned.not_after,
        subject,
        public_key,
        signature,
    )


def verify_chain(data: bytes, issuer_key: ec.EllipticCurvePublicKey, now: datetime) -> bytes:
    """Parse and verify a compressed certificate; the reader public key it vouches for."""
    cert = ReaderCertificate.parse(data)
    if not cert.verify(issuer_key, now):
        raise AliroError("reader certificate does not verify", field="90")
    return cert.public_key


def _extension(oid: bytes, critical: bool, value: bytes) -> bytes:
    flag = encode_tlv(_BOOL, b"\xff") if critical else b""
    return encode_tlv(_SEQ, encode_tlv(_OID, oid) + flag + encode_tlv(_OCTETS, value))


def _integer(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big") if value > 0 else b""
    if not raw or len(raw) > MAX_SERIAL_BYTES:
        raise AliroError("certificate serial must be positive, at most 20 bytes", field="serial")
    return raw


def _parse_integer(raw: bytes) -> int:
    if not 0 < len(raw) <= MAX_SERIAL_BYTES or raw[0] & 0x80:
        raise AliroError("certificate serial must be a positive INTEGER", field="80")
    if len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80:
        raise AliroError("certificate serial must be minimally encoded", field="80")
    value = int.from_bytes(raw, "big")
    if value == 0:
        raise AliroError("certificate serial must be positive", field="80")
    return value


def _name(common_name: str) -> bytes:
    atv = encode_tlv(
        _SEQ, encode_tlv(_OID, _OID_COMMON_NAME) + encode_tlv(_UTF8, common_name.encode())
    )
    return encode_tlv(_SEQ, encode_tlv(_SET, atv))


def _time_text(moment: datetime) -> bytes:
    moment = moment.astimezone(UTC)
    if 1950 <= moment.year < 2050:
        return moment.strftime("%y%m%d%H%M%SZ").encode()
    return moment.strftime("%Y%m%d%H%M%SZ").encode()


def _time(moment: datetime) -> bytes:
    text = _time_text(moment)
    return encode_tlv(_UTC if len(text) == 13 else _GEN, text)


def _parse_time(raw: bytes) -> datetime:
    try:
        text = raw.decode("ascii")
        if len(text) == 13:
            moment = datetime.strptime(text, "%y%m%d%H%M%SZ")
            if moment.year >= 2050:  # X.509: two-digit years 50-99 are 19xx
                moment = moment.replace(year=moment.year - 100)
        elif len(text) == 15:
            moment = datetime.strptime(text, "%Y%m%d%H%M%SZ")
        else:
            raise ValueError(text)
    except ValueError as exc:
        raise AliroError(
            "certificate time must be YYMMDDhhmmssZ or YYYYMMDDhhmmssZ", field="82"
        ) from exc
    return moment.replace(tzinfo=UTC)
