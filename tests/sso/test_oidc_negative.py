"""Forged and faulty ID tokens are refused, and each refusal is an audit event.

The identity provider here is an in-test HTTP peer (an httpx MockTransport serving
discovery, JWKS and the token endpoint) that signs with a real RSA key and lets
each case bend one thing: the algorithm, iss, aud, exp, nonce, auth_time, amr.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, hmac, serialization
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from tests.conftest import FixedClock, Org

from passgate.adapters.oidc import OidcClient, at_hash
from passgate.bootstrap import Container

ISSUER = "https://idp.example.test"
CLIENT_ID = "passgate-client"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@functools.cache
def rsa_key(name: str) -> RSAKey:
    # Generated once per run: RSA key generation dominates these tests otherwise.
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})


class FakeIdp:
    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.key = rsa_key("idp")
        self.nonce = ""
        self.tamper: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c
        self.forge: Callable[[dict[str, Any]], str] | None = None

    def claims(self) -> dict[str, Any]:
        now = int(self.clock.current.timestamp())
        return {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "sub-ada",
            "email": "ada@acme.test",
            "email_verified": True,
            "iat": now,
            "exp": now + 300,
            "auth_time": now - 5,
            "nonce": self.nonce,
            "amr": ["pwd", "otp"],
            "acr": "urn:test:mfa",
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if path == "/jwks":
            return httpx.Response(200, json=KeySet([self.key]).as_dict(private=False))
        if path == "/token":
            claims = self.tamper(self.claims())
            access = "access-token-value"
            claims.setdefault("at_hash", at_hash(access, "RS256"))
            token = (
                self.forge(claims)
                if self.forge
                else jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
            )
            return httpx.Response(200, json={"id_token": token, "access_token": access})
        return httpx.Response(404)


@pytest.fixture
def idp(container: Container, clock: FixedClock) -> FakeIdp:
    fake = FakeIdp(clock)
    transport = httpx.MockTransport(fake.handle)
    oidc = OidcClient(lambda: httpx.Client(transport=transport))
    container.sso = dataclasses.replace(container.sso, oidc=oidc)
    return fake


def _setup(client: TestClient, *, mfa_required: bool = False) -> Org:
    org = Org(client, "acme")
    org.post("/members", {"email": "ada@acme.test", "display_name": "Ada", "role": "admin"})
    r = client.put(
        "/api/v1/sso/connection",
        json={"protocol": "oidc", "issuer": ISSUER, "client_id": CLIENT_ID},
        headers=org.headers,
    )
    assert r.status_code == 200, r.text
    if mfa_required:
        r = client.patch("/api/v1/sso/settings", json={"mfa_required": True}, headers=org.headers)
        assert r.status_code == 200, r.text
    return org


def _login(client: TestClient, idp: FakeIdp, state_override: str | None = None) -> Any:
    start = client.get("/sso/acme/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    query = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
    idp.nonce = query["nonce"]
    state = state_override if state_override is not None else query["state"]
    return client.get(
        "/sso/acme/oidc/callback",
        params={"state": state, "code": "code-1"},
        follow_redirects=False,
    )


def _failures(client: TestClient, org: Org) -> list[str]:
    r = client.get("/api/v1/events", params={"type": "sso.login_failed"}, headers=org.headers)
    return [e["data"]["after"]["reason"] for e in r.json()]


def _hs256_with_public_key(idp: FakeIdp) -> Callable[[dict[str, Any]], str]:
    def forge(claims: dict[str, Any]) -> str:
        pem = idp.key.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        head = _b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
        body = _b64(json.dumps(claims).encode())
        mac = hmac.HMAC(pem, hashes.SHA256())
        mac.update(f"{head}.{body}".encode())
        return f"{head}.{body}.{_b64(mac.finalize())}"

    return forge


def _alg_none(claims: dict[str, Any]) -> str:
    head = _b64(json.dumps({"alg": "none"}).encode())
    return f"{head}.{_b64(json.dumps(claims).encode())}."


def test_a_good_login_works_with_the_fake_idp(client: TestClient, idp: FakeIdp) -> None:
    org = _setup(client)
    r = _login(client, idp)
    assert r.status_code == 303, r.text
    assert r.cookies.get("passgate_session", "").startswith("ses_")
    assert _failures(client, org) == []


CASES: dict[str, tuple[str, Callable[[FakeIdp], None]]] = {
    "alg none": ("alg_not_allowed", lambda i: setattr(i, "forge", _alg_none)),
    "HS256 with the RSA public key": (
        "alg_not_allowed",
        lambda i: setattr(i, "forge", _hs256_with_public_key(i)),
    ),
    "wrong iss": ("wrong_issuer", lambda i: setattr(i, "tamper", lambda c: {**c, "iss": "x"})),
    "wrong aud": ("wrong_audience", lambda i: setattr(i, "tamper", lambda c: {**c, "aud": "x"})),
    "expired": (
        "expired",
        lambda i: setattr(i, "tamper", lambda c: {**c, "exp": c["iat"] - 600}),
    ),
    "missing nonce": (
        "missing_nonce",
        lambda i: setattr(i, "tamper", lambda c: {k: v for k, v in c.items() if k != "nonce"}),
    ),
    "other nonce": (
        "nonce_mismatch",
        lambda i: setattr(i, "tamper", lambda c: {**c, "nonce": "replayed-nonce"}),
    ),
    "auth_time too old": (
        "auth_time_too_old",
        lambda i: setattr(i, "tamper", lambda c: {**c, "auth_time": c["iat"] - 7200}),
    ),
    "bad signature": (
        "bad_signature",
        lambda i: setattr(
            i,
            "forge",
            lambda c: jwt.encode(
                {"alg": "RS256", "kid": "k1"},
                c,
                rsa_key("attacker"),
            ),
        ),
    ),
    "wrong at_hash": (
        "bad_at_hash",
        lambda i: setattr(i, "tamper", lambda c: {**c, "at_hash": _b64(b"0" * 16)}),
    ),
}


def test_forged_or_faulty_id_tokens_are_refused_and_audited(
    client: TestClient, idp: FakeIdp
) -> None:
    org = _setup(client)
    for number, case in enumerate(sorted(CASES), start=1):
        reason, bend = CASES[case]
        idp.tamper, idp.forge = (lambda c: c), None
        bend(idp)
        r = _login(client, idp)
        assert r.status_code == 401, (case, r.text)
        assert "passgate_session" not in r.cookies, case
        assert r.json()["error"]["code"] == "sso_login_failed", case
        failures = _failures(client, org)
        assert len(failures) == number and failures[0] == reason, (case, failures)
    # The same IdP, unbent, still signs in: every refusal above was the bent claim's doing.
    idp.tamper, idp.forge = (lambda c: c), None
    assert _login(client, idp).status_code == 303


def test_replayed_callback_and_unknown_state_are_refused(client: TestClient, idp: FakeIdp) -> None:
    org = _setup(client)
    start = client.get("/sso/acme/login", follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    idp.nonce = query["nonce"]
    params = {"state": query["state"], "code": "code-1"}
    assert client.get("/sso/acme/oidc/callback", params=params, follow_redirects=False).is_redirect
    again = client.get("/sso/acme/oidc/callback", params=params, follow_redirects=False)
    assert again.status_code == 401
    assert _login(client, idp, state_override="forged-state").status_code == 401
    assert _failures(client, org) == ["unknown_state", "replayed_state"]


def test_pwd_only_is_single_factor_and_refused_when_mfa_required(
    client: TestClient, idp: FakeIdp, container: Container, clock: FixedClock
) -> None:
    org = _setup(client)
    idp.tamper = lambda c: {**c, "amr": ["pwd"], "acr": "urn:other"}
    r = _login(client, idp)
    assert r.status_code == 303
    cookie = r.cookies["passgate_session"]
    who = container.authenticator.authenticate(cookie, clock.now())
    assert who.mfa_at is None
    client.cookies.clear()
    r = client.patch("/api/v1/sso/settings", json={"mfa_required": True}, headers=org.headers)
    assert r.status_code == 200
    assert _login(client, idp).status_code == 401
    assert _failures(client, org) == ["mfa_required"]


def test_unknown_and_deactivated_members_are_refused(client: TestClient, idp: FakeIdp) -> None:
    org = _setup(client)
    idp.tamper = lambda c: {**c, "sub": "sub-eve", "email": "eve@acme.test"}
    assert _login(client, idp).status_code == 401
    idp.tamper = lambda c: c
    members = client.get("/api/v1/members", headers=org.headers).json()
    client.patch(
        f"/api/v1/members/{members[0]['id']}", json={"status": "deactivated"}, headers=org.headers
    )
    assert _login(client, idp).status_code == 401
    assert sorted(_failures(client, org)) == ["member_deactivated", "unknown_user"]


def test_expired_login_state_is_refused(
    client: TestClient, idp: FakeIdp, clock: FixedClock
) -> None:
    org = _setup(client)
    start = client.get("/sso/acme/login", follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    idp.nonce = query["nonce"]
    clock.advance(minutes=11)
    r = client.get(
        "/sso/acme/oidc/callback",
        params={"state": query["state"], "code": "c"},
        follow_redirects=False,
    )
    assert r.status_code == 401
    assert _failures(client, org) == ["expired_state"]


def test_a_callback_carried_to_another_browser_finds_no_login(
    client: TestClient, idp: FakeIdp, container: Container
) -> None:
    """Login CSRF: the attacker starts a sign-in, then feeds its callback to a victim."""
    org = _setup(client)
    start = client.get("/sso/acme/login", follow_redirects=False)
    assert "passgate_sso_binding" in start.cookies
    query = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    idp.nonce = query["nonce"]
    params = {"state": query["state"], "code": "code-1"}
    with TestClient(client.app) as victim:  # a browser without the attacker's cookie
        r = victim.get("/sso/acme/oidc/callback", params=params, follow_redirects=False)
        assert r.status_code == 401 and "passgate_session" not in r.cookies
    # The browser that started it still completes it: the binding was the only difference.
    r = client.get("/sso/acme/oidc/callback", params=params, follow_redirects=False)
    assert r.status_code == 303 and "passgate_session" in r.cookies
    assert _failures(client, org) == ["unknown_state"]


def test_a_refused_callback_spends_its_state(client: TestClient, idp: FakeIdp) -> None:
    org = _setup(client)
    start = client.get("/sso/acme/login", follow_redirects=False)
    query = {k: v[0] for k, v in parse_qs(urlparse(start.headers["location"]).query).items()}
    idp.nonce = "not-the-nonce"  # the IdP's answer fails verification
    params = {"state": query["state"], "code": "code-1"}
    assert client.get("/sso/acme/oidc/callback", params=params).status_code == 401
    idp.nonce = query["nonce"]  # a second try with a good answer is too late
    r = client.get("/sso/acme/oidc/callback", params=params, follow_redirects=False)
    assert r.status_code == 401 and "passgate_session" not in r.cookies
    assert _failures(client, org)[0] == "replayed_state"


def test_failed_sign_ins_are_rate_limited_per_organization_and_source(
    client: TestClient, idp: FakeIdp, clock: FixedClock
) -> None:
    from passgate.web import sso as sso_routes

    org = _setup(client)
    for _ in range(sso_routes.FAILED_LOGINS):
        assert _login(client, idp, state_override="guess").status_code == 401
    limited = _login(client, idp)  # even a good answer waits: the caller is guessing
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
    assert len(_failures(client, org)) == sso_routes.FAILED_LOGINS  # the 429 is not audited
    clock.advance(seconds=sso_routes.FAILED_WINDOW.total_seconds() + 1)
    assert _login(client, idp).status_code == 303
