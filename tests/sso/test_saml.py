"""SAML round trips through Passgate's ACS with an in-process pysaml2 IdP, good and bad."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org
from tests.sso.saml_idp import IDP_ENTITY, IDP_SSO, MFA_CLASS, PWD_CLASS, InProcessIdp

from passgate.bootstrap import Container

BASE = "http://127.0.0.1:8000"  # the default public_url of the test settings
SP_ENTITY = f"{BASE}/sso/acme/saml/metadata"
ACS = f"{BASE}/sso/acme/saml/acs"


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> InProcessIdp:
    return InProcessIdp(Path(tmp_path_factory.mktemp("saml-idp")), SP_ENTITY, ACS)


@pytest.fixture
def real_time(clock: FixedClock) -> FixedClock:
    # pysaml2 judges IssueInstant / NotOnOrAfter by the wall clock; align the test clock.
    clock.current = datetime.now(UTC)
    return clock


def _setup(client: TestClient, idp: InProcessIdp, *, mfa_required: bool = False) -> Org:
    org = Org(client, "acme")
    org.post("/members", {"email": "ada@acme.test", "display_name": "Ada", "role": "admin"})
    r = client.put(
        "/api/v1/sso/connection",
        json={
            "protocol": "saml",
            "idp_entity_id": IDP_ENTITY,
            "idp_sso_url": IDP_SSO,
            "idp_certificate": idp.cert_pem,
        },
        headers=org.headers,
    )
    assert r.status_code == 200, r.text
    if mfa_required:
        r = client.patch("/api/v1/sso/settings", json={"mfa_required": True}, headers=org.headers)
        assert r.status_code == 200, r.text
    return org


def _start(client: TestClient, idp: InProcessIdp) -> tuple[str, str]:
    r = client.get("/sso/acme/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(IDP_SSO), r.text
    return idp.request_id(r.headers["location"])


def _post(client: TestClient, saml_response: str, relay: str) -> Any:
    return client.post(
        "/sso/acme/saml/acs",
        data={"SAMLResponse": saml_response, "RelayState": relay},
        follow_redirects=False,
    )


def _failures(client: TestClient, org: Org) -> list[str]:
    r = client.get("/api/v1/events", params={"type": "sso.login_failed"}, headers=org.headers)
    return [e["data"]["after"]["reason"] for e in r.json()]


def test_signed_mfa_assertion_signs_in_with_proven_mfa(
    client: TestClient, idp: InProcessIdp, container: Container, real_time: FixedClock
) -> None:
    org = _setup(client, idp)
    request_id, relay = _start(client, idp)
    r = _post(client, idp.response(request_id), relay)
    assert r.status_code == 303, r.text
    who = container.authenticator.authenticate(r.cookies["passgate_session"], real_time.now())
    assert who.mfa_at is not None
    who.require_fresh_mfa(real_time.now(), timedelta(minutes=15))
    members = client.get("/api/v1/members", headers=org.headers).json()
    assert members[0]["external_id"] == "sub-ada"  # bound on first login
    assert _failures(client, org) == []
    # Replaying the very same POST is refused.
    assert _post(client, idp.response(request_id), relay).status_code == 401


def _set_audience(a: Any) -> None:
    a.conditions.audience_restriction[0].audience[0].text = "https://someone-else.test/sp"


def _set_recipient(a: Any) -> None:
    a.subject.subject_confirmation[0].subject_confirmation_data.recipient = "https://evil.test/acs"


def _expire(a: Any) -> None:
    now = datetime.now(UTC)
    a.conditions.not_before = (now - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    a.conditions.not_on_or_after = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _expire_confirmation(a: Any) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    a.subject.subject_confirmation[0].subject_confirmation_data.not_on_or_after = past


CASES: dict[str, tuple[dict[str, Any], str]] = {
    "unsigned response": ({"sign_assertion": False}, "bad_signature"),
    "unsigned assertion in a signed response": (
        {"sign_assertion": False, "sign_response": True},
        "bad_signature",
    ),
    "wrong audience": ({"tamper": _set_audience}, "wrong_audience"),
    "wrong recipient": ({"tamper": _set_recipient}, "wrong_recipient"),
    "expired assertion": ({"tamper": _expire}, "expired"),
    "expired subject confirmation": ({"tamper": _expire_confirmation}, "expired"),
    "signature-wrapped assertion": ({"wrap": True}, "invalid_assertion"),
    "class ref outside the accepted list": ({"class_ref": PWD_CLASS}, "mfa_required"),
    "SHA-1 signature and digest": ({"sha1": True}, "weak_algorithm"),
}


def test_bad_saml_responses_are_refused_and_audited(
    client: TestClient, idp: InProcessIdp, real_time: FixedClock
) -> None:
    org = _setup(client, idp, mfa_required=True)
    for number, case in enumerate(sorted(CASES), start=1):
        options, reason = CASES[case]
        request_id, relay = _start(client, idp)
        r = _post(client, idp.response(request_id, **options), relay)
        assert r.status_code == 401, (case, r.status_code, r.text)
        assert "passgate_session" not in r.cookies, case
        failures = _failures(client, org)
        assert len(failures) == number and failures[0] == reason, (case, failures)
    # The same IdP and settings, untampered, sign in: each refusal was the tampering's doing.
    request_id, relay = _start(client, idp)
    assert _post(client, idp.response(request_id), relay).status_code == 303


def test_pwd_class_ref_is_single_factor_when_mfa_is_not_required(
    client: TestClient, idp: InProcessIdp, container: Container, real_time: FixedClock
) -> None:
    _setup(client, idp)
    request_id, relay = _start(client, idp)
    r = _post(client, idp.response(request_id, class_ref=PWD_CLASS), relay)
    assert r.status_code == 303, r.text
    who = container.authenticator.authenticate(r.cookies["passgate_session"], real_time.now())
    assert who.mfa_at is None


def test_replayed_assertion_id_is_refused_in_a_new_login(
    client: TestClient, idp: InProcessIdp, real_time: FixedClock
) -> None:
    org = _setup(client, idp)
    request_id, relay = _start(client, idp)
    fixed_id = "_fixed-assertion-id-0001"

    def same_id(a: Any) -> None:
        a.id = fixed_id

    assert _post(client, idp.response(request_id, tamper=same_id), relay).status_code == 303
    client.cookies.clear()
    request_id, relay = _start(client, idp)
    r = _post(client, idp.response(request_id, tamper=same_id), relay)
    assert r.status_code == 401
    assert _failures(client, org) == ["replayed_assertion"]


def test_garbage_is_refused_not_a_crash(
    client: TestClient, idp: InProcessIdp, real_time: FixedClock
) -> None:
    org = _setup(client, idp)
    for junk in ("bm90IHhtbA==", "%%%", "PHg+PC94Pg=="):
        _, relay = _start(client, idp)
        assert _post(client, junk, relay).status_code == 401
    assert len(_failures(client, org)) == 3
    assert MFA_CLASS
