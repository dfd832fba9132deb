"""Signing a pass manifest: PKCS#7 / CMS detached SignedData, DER.

Wallet checks the ``signature`` file as CMS SignedData over manifest.json, signed by
the Pass Type ID certificate, with the WWDR intermediate that issued it embedded and
a signingTime attribute. Certificates are embedded as the exact DER they were issued
as, never re-encoded, so the issuer's signature over them stays valid.

Two ways to produce it:
- with ``signing_time`` given (preferred, sans-IO): we assemble the SignedData in
  DER ourselves (``der.py``) and sign the attributes. With an RSA key (PKCS#1 v1.5 is
  deterministic) the output is a pure function of its inputs, so known-answer tests
  hold.
- without it: pyca/cryptography's PKCS7SignatureBuilder, which stamps signingTime
  from the system clock itself. That clock read happens inside the library, not in
  our code; callers that care pass the time in.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from passgate.errors import ValidationError
from passgate.proto.passkit import der

SignerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_OID_DATA = "1.2.840.113549.1.7.1"
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
_OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
_OID_SHA256 = "2.16.840.1.101.3.4.2.1"
_OID_RSA = "1.2.840.113549.1.1.1"
_OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"


def _load_certificate(pem: bytes, field: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{field} is not a PEM certificate", field=field) from exc


def _public_der(key: object) -> bytes:
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        return b""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValidationError("signing_time must be timezone-aware", field="signing_time")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class PassSigner:
    """The pass certificate, its private key and the WWDR intermediate that issued it."""

    pass_certificate: x509.Certificate
    private_key: SignerKey = dataclasses.field(repr=False)  # keep keys out of logs
    wwdr_certificate: x509.Certificate

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValidationError("the pass key must be RSA or EC", field="key_pem")
        # A key that does not belong to the certificate would produce passes every
        # device rejects; catch it when the server loads its configuration.
        if _public_der(self.private_key.public_key()) != _public_der(
            self.pass_certificate.public_key()
        ):
            raise ValidationError(
                "the pass key does not match the pass certificate", field="key_pem"
            )

    @classmethod
    def from_pem(
        cls, cert_pem: bytes, key_pem: bytes, wwdr_pem: bytes, key_password: bytes | None = None
    ) -> PassSigner:
        certificate = _load_certificate(cert_pem, "cert_pem")
        wwdr = _load_certificate(wwdr_pem, "wwdr_pem")
        try:
            key = serialization.load_pem_private_key(key_pem, password=key_password)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            # Never echo the library's message: it can describe the key material.
            raise ValidationError(
                "key_pem could not be loaded (wrong format or password)", field="key_pem"
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValidationError("the pass key must be RSA or EC", field="key_pem")
        return cls(pass_certificate=certificate, private_key=key, wwdr_certificate=wwdr)

    def sign_manifest(self, manifest: bytes, *, signing_time: datetime | None = None) -> bytes:
        """DER CMS detached SignedData over ``manifest`` (SHA-256, signingTime, WWDR)."""
        if signing_time is None:
            return self._sign_with_builder(manifest)
        return self._sign_assembled(manifest, _utc(signing_time))

    def _sign_with_builder(self, manifest: bytes) -> bytes:
        builder = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.pass_certificate, self.private_key, hashes.SHA256())
            .add_certificate(self.wwdr_certificate)
        )
        return builder.sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )

    @cached_property
    def _signer_identifier(self) -> bytes:
        """IssuerAndSerialNumber, copied byte for byte from the pass certificate."""
        certificate = self.pass_certificate.public_bytes(serialization.Encoding.DER)
        tbs = der.elements(der.content_of(certificate))[0]
        fields = der.elements(der.content_of(tbs))
        if fields[0][0] == 0xA0:  # the optional [0] version comes first
            fields = fields[1:]
        serial, _signature_algorithm, issuer = fields[:3]
        return der.sequence(issuer, serial)

    @cached_property
    def _certificate_set(self) -> bytes:
        encoded = (
            cert.public_bytes(serialization.Encoding.DER)
            for cert in (self.pass_certificate, self.wwdr_certificate)
        )
        return der.explicit(0, b"".join(sorted(encoded)))

    def _sign_assembled(self, manifest: bytes, signing_time: datetime) -> bytes:
        attributes = [
            der.sequence(der.oid(_OID_CONTENT_TYPE), der.set_of([der.oid(_OID_DATA)])),
            der.sequence(der.oid(_OID_SIGNING_TIME), der.set_of([der.time(signing_time)])),
            der.sequence(
                der.oid(_OID_MESSAGE_DIGEST),
                der.set_of([der.octet_string(hashlib.sha256(manifest).digest())]),
            ),
        ]
        # Signed as a universal SET OF, carried as [0] IMPLICIT: same content octets.
        signed_attrs = der.set_of(attributes)
        if isinstance(self.private_key, rsa.RSAPrivateKey):
            signature = self.private_key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
            algorithm = der.sequence(der.oid(_OID_RSA), der.NULL)
        else:
            signature = self.private_key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
            algorithm = der.sequence(der.oid(_OID_ECDSA_SHA256))
        sha256 = der.sequence(der.oid(_OID_SHA256), der.NULL)
        signer_info = der.sequence(
            der.integer(1),
            self._signer_identifier,
            sha256,
            der.explicit(0, der.content_of(signed_attrs)),
            algorithm,
            der.octet_string(signature),
        )
        signed_data = der.sequence(
            der.integer(1),
            der.set_of([sha256]),
            der.sequence(der.oid(_OID_DATA)),
            self._certificate_set,
            der.set_of([signer_info]),
        )
        return der.sequence(der.oid(_OID_SIGNED_DATA), der.explicit(0, signed_data))
