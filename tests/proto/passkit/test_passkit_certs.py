from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from cryptography import x509
from tests.proto.passkit.passkit_helpers import PASS_TYPE, TEAM

from passgate.domain.errors import ValidationError
from passgate.proto.passkit import DevChain, check_pass_certificate, make_dev_chain
from passgate.proto.passkit.certs import (
    DEV_WWDR_NAME,
    PASS_TYPE_EXTENSION_OID,
    PASS_TYPE_KEY_USAGE_OID,
)


def test_dev_chain_shape(dev_chain: DevChain, now: datetime) -> None:
    root = x509.load_pem_x509_certificate(dev_chain.root_pem)
    wwdr = x509.load_pem_x509_certificate(dev_chain.wwdr_pem)
    cert = x509.load_pem_x509_certificate(dev_chain.pass_cert_pem)
    subject = cert.subject
    assert subject.get_attributes_for_oid(x509.NameOID.USER_ID)[0].value == PASS_TYPE
    assert subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == TEAM
    common_name = subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert common_name == f"Pass Type ID: {PASS_TYPE}"
    assert wwdr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == DEV_WWDR_NAME
    assert cert.issuer == wwdr.subject and wwdr.issuer == root.subject
    cert.verify_directly_issued_by(wwdr)
    wwdr.verify_directly_issued_by(root)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert PASS_TYPE_KEY_USAGE_OID in list(eku)
    marker = cert.extensions.get_extension_for_oid(PASS_TYPE_EXTENSION_OID).value
    assert isinstance(marker, x509.UnrecognizedExtension)
    assert marker.value == b"\x0c" + bytes([len(PASS_TYPE)]) + PASS_TYPE.encode()
    key_size = cert.public_key().key_size  # type: ignore[union-attr]
    assert key_size == 2048
    assert cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    assert cert.not_valid_after_utc < wwdr.not_valid_after_utc < root.not_valid_after_utc
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert b"ENCRYPTED" not in dev_chain.pass_key_pem


def test_serials_come_from_the_injected_rng(now: datetime) -> None:
    chain = make_dev_chain(
        pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=now, rng=lambda n: b"\x42" * n
    )
    cert = x509.load_pem_x509_certificate(chain.pass_cert_pem)
    assert cert.serial_number == int.from_bytes(b"\x42" * 20, "big") >> 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"valid_days": 0}, "valid_days"),
        ({"rng_key_size": 1024}, "rng_key_size"),
        ({"now": datetime(2026, 1, 1)}, "now"),
    ],
)
def test_dev_chain_input_checks(now: datetime, changes: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "pass_type_identifier": PASS_TYPE, "team_identifier": TEAM, "now": now, **changes
    }  # fmt: skip
    with pytest.raises(ValidationError) as info:
        make_dev_chain(**arguments)  # type: ignore[arg-type]
    assert info.value.field == field


def _check(chain: DevChain, now: datetime, **changes: object) -> list[str]:
    arguments: dict[str, object] = {
        "pass_cert_pem": chain.pass_cert_pem,
        "wwdr_pem": chain.wwdr_pem,
        "pass_type_identifier": PASS_TYPE,
        "team_identifier": TEAM,
        "now": now,
        "trusted_roots_pem": [chain.root_pem],
        "pass_key_pem": chain.pass_key_pem,
    }
    arguments.update(changes)
    return check_pass_certificate(**arguments)  # type: ignore[arg-type]


def test_good_certificate_has_no_problems(dev_chain: DevChain, now: datetime) -> None:
    assert _check(dev_chain, now) == []
    assert (
        _check(dev_chain, now, trusted_roots_pem=(), pass_key_pem=None, team_identifier=None) == []
    )


def test_reports_expired(dev_chain: DevChain, now: datetime) -> None:
    problems = _check(dev_chain, now + timedelta(days=400))
    assert "the pass certificate has expired" in problems[0]
    assert any("not trusted" in problem and "expired" in problem for problem in problems)


def test_reports_not_yet_valid(dev_chain: DevChain, now: datetime) -> None:
    problems = _check(dev_chain, now - timedelta(days=2))
    assert any(p.startswith("the pass certificate is not valid yet") for p in problems)
    assert any(p.startswith("the WWDR certificate is not valid yet") for p in problems)


def test_reports_wrong_issuer(dev_chain: DevChain, other_chain: DevChain, now: datetime) -> None:
    problems = _check(dev_chain, now, wwdr_pem=other_chain.wwdr_pem, trusted_roots_pem=())
    assert problems == ["the pass certificate was not issued by the WWDR certificate"]


def test_reports_identifier_mismatch(dev_chain: DevChain, now: datetime) -> None:
    problems = _check(dev_chain, now, pass_type_identifier="pass.com.other")
    assert problems == ["the pass certificate is not for pass type identifier 'pass.com.other'"]
    problems = _check(dev_chain, now, team_identifier="ZZZZZ99999")
    assert problems == ["the pass certificate is not for team 'ZZZZZ99999'"]


def test_reports_key_mismatch(dev_chain: DevChain, other_chain: DevChain, now: datetime) -> None:
    problems = _check(dev_chain, now, pass_key_pem=other_chain.pass_key_pem)
    assert problems == ["the pass key does not match the pass certificate"]
    problems = _check(dev_chain, now, pass_key_pem=b"not a key")
    assert problems == ["key_pem could not be loaded (wrong format or password)"]


def test_reports_untrusted_root(dev_chain: DevChain, other_chain: DevChain, now: datetime) -> None:
    problems = _check(dev_chain, now, trusted_roots_pem=[other_chain.root_pem])
    assert problems == [
        "the certificate chain is not trusted: "
        "the signer certificate does not chain to a trusted root"
    ]


def test_reports_unreadable_pem(dev_chain: DevChain, now: datetime) -> None:
    assert _check(dev_chain, now, pass_cert_pem=b"junk") == [
        "the pass certificate is not a readable PEM certificate"
    ]
    assert _check(dev_chain, now, trusted_roots_pem=[b"junk"]) == [
        "trusted root #1 is not a readable PEM certificate"
    ]
