"""The SSO configuration API: who may change it, the enforced / MFA rules, audit, eligibility."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org, operator_headers

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.auth.sessions import LoginProof, start_session

OIDC = {"protocol": "oidc", "issuer": "https://idp.example.test", "client_id": "c"}


def _events(client: TestClient, org: Org, type_: str) -> list[dict[str, object]]:
    return list(client.get("/api/v1/events", params={"type": type_}, headers=org.headers).json())


def test_enforcing_sso_needs_an_enabled_connection_and_pins_it(client: TestClient) -> None:
    org = Org(client, "acme")
    r = client.patch("/api/v1/sso/settings", json={"sso_enforced": True}, headers=org.headers)
    assert r.status_code == 409 and r.json()["error"]["field"] == "sso_enforced"
    r = client.put("/api/v1/sso/connection", json={**OIDC, "enabled": False}, headers=org.headers)
    assert r.status_code == 200
    r = client.patch("/api/v1/sso/settings", json={"sso_enforced": True}, headers=org.headers)
    assert r.status_code == 409
    assert client.put("/api/v1/sso/connection", json=OIDC, headers=org.headers).status_code == 200
    r = client.patch(
        "/api/v1/sso/settings",
        json={"sso_enforced": True, "mfa_required": True},
        headers=org.headers,
    )
    assert r.status_code == 200 and r.json()["sso_enforced"] and r.json()["mfa_required"]
    reasons = client.get("/api/v1/organization", headers=org.headers).json()
    assert not {"sso_not_configured", "sso_not_enforced", "mfa_not_required"} & set(
        reasons["eligibility_reasons"]
    )
    # While enforced, the connection can be neither disabled nor removed.
    r = client.put("/api/v1/sso/connection", json={**OIDC, "enabled": False}, headers=org.headers)
    assert r.status_code == 409
    assert client.delete("/api/v1/sso/connection", headers=org.headers).status_code == 409
    client.patch("/api/v1/sso/settings", json={"sso_enforced": False}, headers=org.headers)
    assert client.delete("/api/v1/sso/connection", headers=org.headers).status_code == 204
    assert client.get("/api/v1/sso", headers=org.headers).json()["connection"] is None
    types = [e["type"] for e in client.get("/api/v1/events", headers=org.headers).json()]
    for kind in ("sso.connection_created", "sso.connection_updated", "sso.settings_changed"):
        assert kind in types
    assert "sso.connection_deleted" in types


def test_connection_validation_names_the_field(client: TestClient) -> None:
    org = Org(client, "acme")
    for body, field in (
        ({"protocol": "oidc", "client_id": "c"}, "issuer"),
        ({**OIDC, "issuer": "http://idp.example.test"}, "issuer"),
        ({**OIDC, "scope": "email"}, "scope"),
        ({**OIDC, "idp_entity_id": "x"}, "idp_entity_id"),
        ({"protocol": "saml", "idp_entity_id": "x"}, "idp_sso_url"),
    ):
        r = client.put("/api/v1/sso/connection", json=body, headers=org.headers)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (body, r.text)
    assert client.get("/api/v1/sso", headers=org.headers).json()["connection"] is None


def test_the_client_secret_is_sealed_and_never_shown(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    secret = "a-client-secret-value-1234567890"
    r = client.put(
        "/api/v1/sso/connection", json={**OIDC, "client_secret": secret}, headers=org.headers
    )
    assert r.status_code == 200 and secret not in r.text
    assert r.json()["connection"]["has_client_secret"] is True
    events = client.get("/api/v1/events", headers=org.headers).text
    assert secret not in events
    with container.uow_factory(org.id, write=False) as uow:
        row = uow.repo(m.SsoConnection).all_where()[0]
    assert row.secret_sealed and secret not in row.secret_sealed
    assert container.secret_box.open(row.secret_sealed).decode() == secret


def test_operator_configures_any_org_and_other_keys_cannot(client: TestClient) -> None:
    org, other = Org(client, "acme"), Org(client, "beta")
    path = f"/api/v1/organizations/{org.id}/sso"
    r = client.put(f"{path}/connection", json=OIDC, headers=operator_headers())
    assert r.status_code == 200, r.text
    r = client.patch(f"{path}/settings", json={"sso_enforced": True}, headers=operator_headers())
    assert r.status_code == 200 and r.json()["sso_enforced"] is True
    assert client.put(f"{path}/connection", json=OIDC, headers=other.headers).status_code == 403
    assert client.get("/api/v1/sso", headers=other.headers).json()["connection"] is None
    read_only = org.post("/api_keys", {"name": "ro", "role": "read_only"})["token"]
    r = client.patch(
        "/api/v1/sso/settings",
        json={"mfa_required": True},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    assert r.status_code == 403


def test_member_sessions_need_fresh_mfa_to_change_sso(
    client: TestClient, container: Container, clock: FixedClock
) -> None:
    org = Org(client, "acme")
    admin = org.post("/members", {"email": "a@acme.test", "display_name": "A", "role": "admin"})
    client.put("/api/v1/sso/connection", json=OIDC, headers=org.headers)
    with container.uow_factory(org.id) as uow:
        member = uow.repo(m.Member).get(admin["id"])
        proof = LoginProof("oidc", OIDC["issuer"], True, ("pwd", "otp"), clock.now())
        issued = start_session(
            uow,
            member=member,
            kind=m.SessionKind.BROWSER,
            proof=proof,
            policy=container.session_policy(m.SessionKind.BROWSER),
            now=clock.now(),
        )
    client.cookies.set("passgate_session", issued.token)
    client.cookies.set("passgate_csrf", "csrf-value")
    csrf = {"X-CSRF-Token": "csrf-value"}
    r = client.patch("/api/v1/sso/settings", json={"mfa_required": True}, headers=csrf)
    assert r.status_code == 200, r.text
    changed = _events(client, org, "sso.settings_changed")
    assert changed[0]["data"]["session_id"] == issued.session.id  # type: ignore[index]
    clock.advance(minutes=16)
    r = client.patch("/api/v1/sso/settings", json={"mfa_required": False}, headers=csrf)
    assert r.status_code == 409 and r.json()["error"]["code"] == "mfa_not_fresh"


def test_sp_metadata_and_unknown_orgs(client: TestClient) -> None:
    r = client.get("/sso/acme/saml/metadata")
    assert r.status_code == 200 and "/sso/acme/saml/acs" in r.text
    assert client.get("/sso/nobody/login", follow_redirects=False).status_code == 404
    Org(client, "acme")
    # No enabled connection: nothing to sign in with.
    assert client.get("/sso/acme/login", follow_redirects=False).status_code == 404


def test_outside_development_mode_an_oidc_issuer_must_be_https(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    local = {"protocol": "oidc", "issuer": "http://127.0.0.1:9000", "client_id": "c"}
    assert client.put("/api/v1/sso/connection", json=local, headers=org.headers).status_code == 200
    container.settings = container.settings.model_copy(update={"dev_mode": False})
    r = client.put("/api/v1/sso/connection", json=local, headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "issuer", r.text
    for issuer in ("http://localhost:9000", "http://idp.example.test"):
        r = client.put(
            "/api/v1/sso/connection", json={**local, "issuer": issuer}, headers=org.headers
        )
        assert r.status_code == 422, issuer
    r = client.put("/api/v1/sso/connection", json=OIDC, headers=org.headers)
    assert r.status_code == 200, r.text
