"""Certificate path rules, on small EC chains built here (fast to generate)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from passgate.proto.passkit.chain import ChainError, leaf_usage_problem, verify_chain

Issued = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def _issue(
    name: str,
    now: datetime,
    issuer: Issued | None = None,
    *,
    ca: bool = True,
    path_length: int | None = None,
    signing: bool = True,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_cert, issuer_key = issuer if issuer is not None else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=signing, content_commitment=False, key_encipherment=not signing,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    return builder.sign(issuer_key, hashes.SHA256()), key


def test_valid_path_is_returned(now: datetime) -> None:
    root = _issue("root", now, path_length=1)
    wwdr = _issue("wwdr", now, root, path_length=0)
    leaf = _issue("leaf", now, wwdr, ca=False)
    path = verify_chain(leaf[0], [wwdr[0]], [root[0]], now=now)
    assert path == [leaf[0], wwdr[0], root[0]]


def test_path_length_constraint_enforced(now: datetime) -> None:
    root = _issue("root", now, path_length=1)
    wwdr = _issue("wwdr", now, root, path_length=0)
    sneaky = _issue("sneaky sub-CA", now, wwdr)
    leaf = _issue("leaf", now, sneaky, ca=False)
    with pytest.raises(ChainError, match="path length"):
        verify_chain(leaf[0], [wwdr[0], sneaky[0]], [root[0]], now=now)


def test_leaf_cannot_act_as_issuer(now: datetime) -> None:
    root = _issue("root", now)
    leaf = _issue("leaf", now, root, ca=False)
    grandchild = _issue("grandchild", now, leaf, ca=False)
    with pytest.raises(ChainError, match="does not chain"):
        verify_chain(grandchild[0], [leaf[0]], [root[0]], now=now)


def test_name_match_without_signature_is_not_enough(now: datetime) -> None:
    root = _issue("root", now)
    impostor = _issue("root", now)  # same name, different key
    leaf = _issue("leaf", now, impostor, ca=False)
    with pytest.raises(ChainError, match="does not chain"):
        verify_chain(leaf[0], [impostor[0]], [root[0]], now=now)


def test_key_usage_of_signer(now: datetime) -> None:
    root = _issue("root", now)
    assert leaf_usage_problem(_issue("leaf", now, root, ca=False)[0]) is None
    encipher_only = _issue("leaf", now, root, ca=False, signing=False)[0]
    assert leaf_usage_problem(encipher_only) == (
        "the signer certificate's key usage does not allow signatures"
    )
