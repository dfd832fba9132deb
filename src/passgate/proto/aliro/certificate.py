"""Compressed reader certificates: a reader's own key, vouched for by the group issuer key.

Wire form (AUTH1 tag 90, or the data of LOAD CERTIFICATE)::

    30 { 04 profile (0000),
         30 { 80 serial, 81 issuer CN, 82 not before, 83 not after, 84 subject CN,
              85 subject public key (65-byte point), 86 signature (DER ECDSA) } }

The signature is the issuer's ECDSA P-256 / SHA-256 signature over the X.509
TBSCertificate that the fields expand to. The expansion is fixed here, field by field
(the public write-up names the field mapping and defers the rest): version v3, serial
INTEGER from 80, signature algorithm ecdsa-with-SHA256, issuer and subject each one
commonName as UTF8String, validity from 82/83 (13 characters: UTCTime, 15: GeneralizedTime),
subjectPublicKeyInfo id-ecPublicKey / prime256v1 with the point of 85, no extensions. The
expanded certificate is a standard X.509 certificate (tests parse it with a stock X.509
library and check the signature there too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.aliro import crypto
from passgate.proto.aliro.errors import AliroError
from passgate.proto.tlv import TlvError, decode_all, encode_tlv, unique_map

PROFILE = b"\x00\x00"
_SEQ, _SET, _INT, _BITS, _OID, _UTF8, _UTC, _GEN = 0x30, 0x31, 0x02, 0x03, 0x06, 0x0C, 0x17, 0x18
_OID_ECDSA_SHA256 = bytes.fromhex("2a8648ce3d040302")
_OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")
_OID_P256 = bytes.fromhex("2a8648ce3d030107")
_OID_COMMON_NAME = bytes.fromhex("550403")
_FIELDS = frozenset(range(0x80, 0x87))


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

    def tbs(self) -> bytes:
        alg = encode_tlv(_SEQ, encode_tlv(_OID, _OID_ECDSA_SHA256))
        spki = encode_tlv(
            _SEQ,
            encode_tlv(_SEQ, encode_tlv(_OID, _OID_EC_PUBLIC_KEY) + encode_tlv(_OID, _OID_P256))
            + encode_tlv(_BITS, b"\x00" + self.public_key),
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
            )
        )
        return encode_tlv(_SEQ, body)

    def x509_der(self) -> bytes:
        """The whole expanded certificate (for standard tools)."""
        alg = encode_tlv(_SEQ, encode_tlv(_OID, _OID_ECDSA_SHA256))
        return encode_tlv(_SEQ, self.tbs() + alg + encode_tlv(_BITS, b"\x00" + self.signature))

    # --- compressed form --------------------------------------------------------------

    def encode(self) -> bytes:
        body = b"".join(
            (
                encode_tlv(0x80, _integer(self.serial)),
                encode_tlv(0x81, self.issuer.encode()),
                encode_tlv(0x82, _time_text(self.not_before)),
                encode_tlv(0x83, _time_text(self.not_after)),
                encode_tlv(0x84, self.subject.encode()),
                encode_tlv(0x85, self.public_key),
                encode_tlv(0x86, self.signature),
            )
        )
        return encode_tlv(_SEQ, encode_tlv(0x04, PROFILE) + encode_tlv(_SEQ, body))

    @classmethod
    def parse(cls, data: bytes) -> ReaderCertificate:
        try:
            outer = decode_all(data)
            if len(outer) != 1 or outer[0].tag != _SEQ:
                raise AliroError("certificate is not one SEQUENCE", field="90")
            parts = outer[0].children()
            if len(parts) != 2 or parts[0].tag != 0x04 or parts[1].tag != _SEQ:
                raise AliroError("certificate must hold a profile and a body", field="90")
            if parts[0].value != PROFILE:
                raise AliroError("unknown certificate profile", field="90")
            f = unique_map(parts[1].children())
        except TlvError as exc:
            raise AliroError(f"malformed certificate: {exc.message}", field="90") from exc
        if set(f) != _FIELDS:
            raise AliroError("certificate must carry exactly the fields 80 to 86", field="90")
        public_key = f[0x85]
        crypto.load_public_key(public_key)
        try:
            issuer, subject = f[0x81].decode(), f[0x84].decode()
        except UnicodeDecodeError as exc:
            raise AliroError("certificate names must be UTF-8", field="90") from exc
        return cls(
            serial=_parse_integer(f[0x80]),
            issuer=issuer,
            not_before=_parse_time(f[0x82]),
            not_after=_parse_time(f[0x83]),
            subject=subject,
            public_key=public_key,
            signature=f[0x86],
        )

    def verify(self, issuer_key: ec.EllipticCurvePublicKey, now: datetime) -> bool:
        """Signed by ``issuer_key`` and valid at ``now``."""
        if not self.not_before <= now <= self.not_after:
            return False
        return crypto.verify_der(issuer_key, self.signature, self.tbs())


def issue(
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    serial: int,
    issuer: str,
    subject: str,
    public_key: bytes,
    not_before: datetime,
    not_after: datetime,
) -> ReaderCertificate:
    """A reader certificate for ``public_key``, signed by the group issuer key."""
    unsigned = ReaderCertificate(
        serial,
        issuer,
        not_before.replace(microsecond=0),
        not_after.replace(microsecond=0),
        subject,
        public_key,
        b"",
    )
    signature = issuer_key.sign(unsigned.tbs(), ec.ECDSA(hashes.SHA256()))
    return ReaderCertificate(
        unsigned.serial,
        issuer,
        unsigned.not_before,
        unsigned.not_after,
        subject,
        public_key,
        signature,
    )


def verify_chain(
    data: bytes,
    trusted: Mapping[str, ec.EllipticCurvePublicKey] | ec.EllipticCurvePublicKey,
    now: datetime,
) -> bytes:
    """Parse and verify a compressed certificate; return the reader public key it vouches for."""
    cert = ReaderCertificate.parse(data)
    key = trusted if isinstance(trusted, ec.EllipticCurvePublicKey) else trusted.get(cert.issuer)
    if key is None or not cert.verify(key, now):
        raise AliroError("reader certificate does not verify", field="90")
    return cert.public_key


def _integer(value: int) -> bytes:
    if value <= 0:
        raise AliroError("certificate serial must be positive", field="serial")
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def _parse_integer(raw: bytes) -> int:
    if not raw or raw[0] & 0x80 or (len(raw) > 1 and raw[0] == 0 and not raw[1] & 0x80):
        raise AliroError("certificate serial must be a minimal positive INTEGER", field="80")
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
        elif len(text) == 15:
            moment = datetime.strptime(text, "%Y%m%d%H%M%SZ")
        else:
            raise ValueError(text)
    except ValueError as exc:
        raise AliroError(
            "certificate time must be YYMMDDhhmmssZ or YYYYMMDDhhmmssZ", field="82"
        ) from exc
    return moment.replace(tzinfo=UTC)
