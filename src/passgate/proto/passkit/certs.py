"""Development certificates, and the start-up check for real ones.

``make_dev_chain`` builds what Apple would issue, locally: a root CA, a WWDR-like
intermediate and a Pass Type ID certificate shaped like Apple's (UID = pass type
identifier, OU = team identifier, "Pass Type ID: ..." common name, the pass type
extended key usage and the 1.2.840.113635.100.6.1.16 extension). Tests and the demo
trust the root; production never sees it.

``check_pass_certificate`` lists what is wrong with a configured certificate so the
server can refuse to start rather than hand out passes every iPhone rejects.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from passgate.errors import ValidationError
from passgate.proto.passkit.chain import ChainError, issued_by, validity_problem, verify_chain
from passgate.proto.passkit.signing import PassSigner

PASS_TYPE_EXTENSION_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.1.16")
PASS_TYPE_KEY_USAGE_OID = x509.ObjectIdentifier("1.2.840.113635.100.4.14")
DEV_WWDR_NAME = "Passgate Development WWDR"
DEV_ROOT_NAME = "Passgate Development Root CA"
# Backdate so a device whose clock runs a little behind still accepts a fresh chain.
_BACKDATE = timedelta(hours=1)


@dataclass(frozen=True)
class DevChain:
    root_pem: bytes
    wwdr_pem: bytes
    pass_cert_pem: bytes
    pass_key_pem: bytes


def _utf8_string_der(text: str) -> bytes:
    body = text.encode("utf-8")
    if len(body) < 0x80:
        return bytes([0x0C, len(body)]) + body
    length = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + body


def _serial(rng: Callable[[int], bytes]) -> int:
    # 20 bytes with the top bit cleared: positive and within RFC 5280's limit.
    return int.from_bytes(rng(20), "big") >> 1 or 1


def _ca_certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name,
    issuer_key: rsa.RSAPrivateKey,
    *,
    not_before: datetime,
    not_after: datetime,
    path_length: int | None,
    serial: int,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .sign(issuer_key, hashes.SHA256())
    )


def make_dev_chain(
    *,
    pass_type_identifier: str,
    team_identifier: str,
    now: datetime,
    valid_days: int = 365,
    rng_key_size: int = 2048,
    rng: Callable[[int], bytes] = os.urandom,
) -> DevChain:
    """A fresh root -> WWDR-like intermediate -> pass certificate chain, with the key.

    ``rng`` draws the certificate serial numbers; the RSA keys come from OpenSSL's
    generator, which cannot be injected.
    """
    if now.utcoffset() is None:
        raise ValidationError("now must be timezone-aware", field="now")
    if valid_days < 1:
        raise ValidationError("valid_days must be at least 1", field="valid_days")
    if rng_key_size < 2048:
        raise ValidationError("rng_key_size must be at least 2048 bits", field="rng_key_size")
    start = now.astimezone(UTC) - _BACKDATE
    root_key, wwdr_key, pass_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=rng_key_size) for _ in range(3)
    )
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DEV_ROOT_NAME)])
    wwdr_name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEV_WWDR_NAME),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Passgate Development"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passgate"),
        ]
    )
    # Issuers outlive what they issue, as Apple's do.
    root = _ca_certificate(
        root_name,
        root_key,
        root_name,
        root_key,
        not_before=start,
        not_after=start + timedelta(days=valid_days * 3),
        path_length=1,
        serial=_serial(rng),
    )
    wwdr = _ca_certificate(
        wwdr_name,
        wwdr_key,
        root_name,
        root_key,
        not_before=start,
        not_after=start + timedelta(days=valid_days * 2),
        path_length=0,
        serial=_serial(rng),
    )
    pass_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.USER_ID, pass_type_identifier),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Passgate Development"),
        ]
    )
    pass_cert = (
        x509.CertificateBuilder()
        .subject_name(pass_subject)
        .issuer_name(wwdr_name)
        .public_key(pass_key.public_key())
        .serial_number(_serial(rng))
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([PASS_TYPE_KEY_USAGE_OID, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            x509.UnrecognizedExtension(
                PASS_TYPE_EXTENSION_OID, _utf8_string_der(pass_type_identifier)
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(pass_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(wwdr_key.public_key()), False
        )
        .sign(wwdr_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return DevChain(
        root_pem=root.public_bytes(pem),
        wwdr_pem=wwdr.public_bytes(pem),
        pass_cert_pem=pass_cert.public_bytes(pem),
        pass_key_pem=pass_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def _load(pem: bytes, label: str, problems: list[str]) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        problems.append(f"{label} is not a readable PEM certificate")
        return None


def _subject_values(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attr.value) for attr in certificate.subject.get_attributes_for_oid(oid)]


def check_pass_certificate(
    *,
    pass_cert_pem: bytes,
    wwdr_pem: bytes,
    pass_type_identifier: str,
    team_identifier: str | None,
    now: datetime,
    trusted_roots_pem: Sequence[bytes] = (),
    pass_key_pem: bytes | None = None,
    key_password: bytes | None = None,
) -> list[str]:
    """Every problem with the configured pass certificate; empty when it is usable."""
    problems: list[str] = []
    certificate = _load(pass_cert_pem, "the pass certificate", problems)
    wwdr = _load(wwdr_pem, "the WWDR certificate", problems)
    if certificate is None or wwdr is None:
        return problems
    for cert, label in ((certificate, "the pass certificate"), (wwdr, "the WWDR certificate")):
        problem = validity_problem(cert, now, label)
        if problem is not None:
            problems.append(problem)
    if not issued_by(certificate, wwdr):
        problems.append("the pass certificate was not issued by the WWDR certificate")
    if pass_type_identifier not in _subject_values(certificate, NameOID.USER_ID):
        problems.append(
            f"the pass certificate is not for pass type identifier {pass_type_identifier!r}"
        )
    if team_identifier is not None and team_identifier not in _subject_values(
        certificate, NameOID.ORGANIZATIONAL_UNIT_NAME
    ):
        problems.append(f"the pass certificate is not for team {team_identifier!r}")
    roots: list[x509.Certificate] = []
    for index, root_pem in enumerate(trusted_roots_pem):
        root = _load(root_pem, f"trusted root #{index + 1}", problems)
        if root is not None:
            roots.append(root)
    if roots:
        try:
            verify_chain(certificate, [wwdr], roots, now=now)
        except ChainError as exc:
            problems.append(f"the certificate chain is not trusted: {exc}")
    if pass_key_pem is not None:
        try:
            PassSigner.from_pem(pass_cert_pem, pass_key_pem, wwdr_pem, key_password)
        except ValidationError as exc:
            problems.append(exc.message)
    return problems
