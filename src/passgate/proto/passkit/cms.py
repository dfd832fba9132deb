"""Verifying a CMS (PKCS#7) detached SignedData, the .pkpass ``signature`` file.

cryptography has no CMS verifier, so the ASN.1 is parsed with asn1crypto and every
check is done here: the messageDigest attribute equals the digest of the content,
and the signer's key signed the DER SET OF signed attributes. Trusting the signer's
certificate is ``chain.py``'s job.

asn1crypto parses lazily, so malformed input can raise from any field access. All
of that happens inside ``_parse``, which turns the tree into plain typed values and
maps every parsing failure to PkpassError; the checks afterwards work on those
values only.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from passgate.proto.passkit.errors import PkpassError

_DIGESTS: dict[str, tuple[str, hashes.HashAlgorithm]] = {
    "sha1": ("sha1", hashes.SHA1()),  # noqa: S303 - older passes; the chain still decides trust
    "sha256": ("sha256", hashes.SHA256()),
    "sha384": ("sha384", hashes.SHA384()),
    "sha512": ("sha512", hashes.SHA512()),
}
_RSA_ALGORITHMS = frozenset(
    {"rsassa_pkcs1v15", "rsa", "sha1_rsa", "sha256_rsa", "sha384_rsa", "sha512_rsa"}
)
_ECDSA_ALGORITHMS = frozenset(
    {"ecdsa", "sha1_ecdsa", "sha256_ecdsa", "sha384_ecdsa", "sha512_ecdsa"}
)
# Everything asn1crypto and cryptography raise on malformed input. RecursionError
# covers deeply nested BER; each is a parse failure of a stranger's bytes.
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    x509.InvalidVersion,
)


@dataclass(frozen=True)
class SignatureInfo:
    """What a verified signature tells us: who signed, with which certificates, when."""

    signer_certificate: x509.Certificate
    certificates: tuple[x509.Certificate, ...]
    signing_time: datetime | None


@dataclass(frozen=True)
class _Parsed:
    certificates: tuple[x509.Certificate, ...]
    signer_certificate: x509.Certificate
    digest_name: str
    signature_algorithm: str
    signature: bytes
    signed_attrs_der: bytes
    message_digests: tuple[bytes, ...]
    content_types: tuple[str, ...]
    signing_times: tuple[datetime, ...]
    embedded_content: bytes | None


def _attribute_values(signed_attrs: Any, name: str) -> list[Any]:
    values: list[Any] = []
    for attribute in signed_attrs:
        if attribute["type"].native == name:
            values.extend(attribute["values"])
    return values


def _find_signer(sid: Any, certificates: list[tuple[Any, x509.Certificate]]) -> x509.Certificate:
    for asn1_cert, certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                asn1_cert.issuer.dump() == wanted["issuer"].dump()
                and asn1_cert.serial_number == wanted["serial_number"].native
            ):
                return certificate
        elif sid.name == "subject_key_identifier" and asn1_cert.key_identifier == sid.chosen.native:
            return certificate
    raise PkpassError("the signer certificate is not included in the signature")


def _parse(signature_der: bytes) -> _Parsed:
    content_info = asn1_cms.ContentInfo.load(signature_der, strict=True)
    if content_info["content_type"].native != "signed_data":
        raise PkpassError("signature is not CMS SignedData")
    signed_data = content_info["content"]
    embedded = signed_data["encap_content_info"]["content"]
    embedded_content = None if embedded.native is None else bytes(embedded.native)
    certificates: list[tuple[Any, x509.Certificate]] = []
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        asn1_cert = choice.chosen
        # cryptography only warns about a non-positive serial (RFC 5280 forbids it);
        # refuse it here so a stranger's certificate cannot make us emit warnings.
        if asn1_cert.serial_number <= 0:
            raise PkpassError("an embedded certificate has a non-positive serial number")
        certificates.append((asn1_cert, x509.load_der_x509_certificate(asn1_cert.dump())))
    signer_infos = signed_data["signer_infos"]
    if len(signer_infos) != 1:
        raise PkpassError("signature must have exactly one signer")
    signer_info = signer_infos[0]
    signed_attrs = signer_info["signed_attrs"]
    if signed_attrs.native is None:
        raise PkpassError("signature has no signed attributes")
    # The signature covers the attributes encoded as a universal SET OF (tag 0x31),
    # not with the [0] IMPLICIT tag they carry inside SignerInfo.
    attrs_der = bytes(signed_attrs.dump())
    signed_attrs_der = b"\x31" + attrs_der[1:]
    times = []
    for value in _attribute_values(signed_attrs, "signing_time"):
        moment = value.native
        if not isinstance(moment, datetime):
            raise PkpassError("signingTime is not a time")
        times.append(moment.astimezone(UTC))
    return _Parsed(
        certificates=tuple(cert for _, cert in certificates),
        signer_certificate=_find_signer(signer_info["sid"], certificates),
        digest_name=str(signer_info["digest_algorithm"]["algorithm"].native),
        signature_algorithm=str(signer_info["signature_algorithm"]["algorithm"].native),
        signature=bytes(signer_info["signature"].native),
        signed_attrs_der=signed_attrs_der,
        message_digests=tuple(
            bytes(v.native) for v in _attribute_values(signed_attrs, "message_digest")
        ),
        content_types=tuple(str(v.native) for v in _attribute_values(signed_attrs, "content_type")),
        signing_times=tuple(times),
        embedded_content=embedded_content,
    )


def _check_signature(parsed: _Parsed, algorithm: hashes.HashAlgorithm) -> None:
    key = parsed.signer_certificate.public_key()
    if parsed.signature_algorithm in _RSA_ALGORITHMS and isinstance(key, rsa.RSAPublicKey):
        key.verify(parsed.signature, parsed.signed_attrs_der, padding.PKCS1v15(), algorithm)
    elif parsed.signature_algorithm in _ECDSA_ALGORITHMS and isinstance(
        key, ec.EllipticCurvePublicKey
    ):
        key.verify(parsed.signature, parsed.signed_attrs_der, ec.ECDSA(algorithm))
    else:
        raise PkpassError("unsupported signature algorithm or key type")


def verify_detached_signature(signature_der: bytes, content: bytes) -> SignatureInfo:
    """Check that ``signature_der`` is a valid CMS signature of ``content``.

    Does not decide whether the signer is trusted; see ``chain.verify_chain``.
    """
    try:
        parsed = _parse(signature_der)
    except _PARSE_ERRORS as exc:
        raise PkpassError("signature is not valid DER CMS SignedData") from exc
    if parsed.embedded_content is not None and parsed.embedded_content != content:
        raise PkpassError("signature embeds different content")
    if parsed.digest_name not in _DIGESTS:
        raise PkpassError("unsupported digest algorithm in signature")
    hashlib_name, algorithm = _DIGESTS[parsed.digest_name]
    if parsed.content_types != ("data",):
        raise PkpassError("signature must carry exactly one contentType attribute of data")
    if len(parsed.message_digests) != 1:
        raise PkpassError("signature must carry exactly one messageDigest attribute")
    if len(parsed.signing_times) > 1:
        raise PkpassError("signature carries more than one signingTime")
    expected = hashlib.new(hashlib_name, content).digest()
    if not hmac.compare_digest(parsed.message_digests[0], expected):
        raise PkpassError("manifest.json does not match the signed digest")
    try:
        _check_signature(parsed, algorithm)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError) as exc:
        raise PkpassError("the signature does not verify with the signer certificate") from exc
    return SignatureInfo(
        signer_certificate=parsed.signer_certificate,
        certificates=parsed.certificates,
        signing_time=parsed.signing_times[0] if parsed.signing_times else None,
    )
