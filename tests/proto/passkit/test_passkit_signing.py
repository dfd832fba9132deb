from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import cms as asn1_cms  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from passgate.domain.errors import ValidationError
from passgate.proto.passkit import DevChain, PassSigner, PkpassError
from passgate.proto.passkit.cms import verify_detached_signature

MANIFEST = b'{"icon.png":"00","pass.json":"11"}'


def test_assembled_signature_is_deterministic_with_rsa(signer: PassSigner, now: datetime) -> None:
    first = signer.sign_manifest(MANIFEST, signing_time=now)
    assert first == signer.sign_manifest(MANIFEST, signing_time=now)
    assert first != signer.sign_manifest(MANIFEST, signing_time=now + timedelta(seconds=1))


def test_signature_structure(signer: PassSigner, dev_chain: DevChain, now: datetime) -> None:
    local = now.astimezone(timezone(timedelta(hours=-5)))
    der = signer.sign_manifest(MANIFEST, signing_time=local)
    info = asn1_cms.ContentInfo.load(der)
    signed = info["content"]
    assert signed["encap_content_info"]["content"].native is None  # detached
    embedded = [cert.chosen.dump() for cert in signed["certificates"]]
    wwdr_der = x509.load_pem_x509_certificate(dev_chain.wwdr_pem).public_bytes(
        serialization.Encoding.DER
    )
    assert wwdr_der in embedded  # byte for byte as issued
    attrs = {
        a["type"].native: a["values"][0].native for a in signed["signer_infos"][0]["signed_attrs"]
    }
    assert attrs["message_digest"] == hashlib.sha256(MANIFEST).digest()
    assert attrs["signing_time"] == now
    assert attrs["content_type"] == "data"
    result = verify_detached_signature(der, MANIFEST)
    assert result.signing_time == now
    assert result.signer_certificate == signer.pass_certificate


def test_library_builder_signature_verifies(signer: PassSigner) -> None:
    result = verify_detached_signature(signer.sign_manifest(MANIFEST), MANIFEST)
    assert result.signing_time is not None
    with pytest.raises(PkpassError, match="signed digest"):
        verify_detached_signature(signer.sign_manifest(MANIFEST), MANIFEST + b" ")


def test_ec_signer_roundtrip(now: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pass Type ID: pass.ec")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    signer = PassSigner(pass_certificate=cert, private_key=key, wwdr_certificate=cert)
    for signing_time in (now, None):
        der = signer.sign_manifest(MANIFEST, signing_time=signing_time)
        assert verify_detached_signature(der, MANIFEST).signer_certificate == cert


def test_signing_time_must_be_aware(signer: PassSigner) -> None:
    with pytest.raises(ValidationError) as info:
        signer.sign_manifest(MANIFEST, signing_time=datetime(2026, 1, 1))
    assert info.value.field == "signing_time"


def test_from_pem_errors(dev_chain: DevChain, other_chain: DevChain) -> None:
    cases = [
        ((b"junk", dev_chain.pass_key_pem, dev_chain.wwdr_pem), "cert_pem"),
        ((dev_chain.pass_cert_pem, dev_chain.pass_key_pem, b"junk"), "wwdr_pem"),
        ((dev_chain.pass_cert_pem, b"junk", dev_chain.wwdr_pem), "key_pem"),
        ((dev_chain.pass_cert_pem, other_chain.pass_key_pem, dev_chain.wwdr_pem), "key_pem"),
    ]
    for arguments, field in cases:
        with pytest.raises(ValidationError) as info:
            PassSigner.from_pem(*arguments)
        assert info.value.field == field


def test_from_pem_with_encrypted_key(dev_chain: DevChain) -> None:
    key = serialization.load_pem_private_key(dev_chain.pass_key_pem, password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret-passphrase"),
    )
    signer = PassSigner.from_pem(
        dev_chain.pass_cert_pem, encrypted, dev_chain.wwdr_pem, b"s3cret-passphrase"
    )
    assert signer.pass_certificate.subject.rfc4514_string().startswith("O=")
    with pytest.raises(ValidationError) as info:
        PassSigner.from_pem(dev_chain.pass_cert_pem, encrypted, dev_chain.wwdr_pem, b"wrong")
    assert "s3cret" not in str(info.value)
