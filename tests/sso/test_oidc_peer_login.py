"""Full OIDC logins (authorization code + PKCE) against the real oidc-provider, no browser."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tests.sso.conftest import (
    OTP,
    SLUG,
    LiveServer,
    OidcPeer,
    admin_headers,
    events_of,
    idp_login,
    query_of,
)

from passgate.domain.errors import PreconditionFailed
from passgate.services.auth.sessions import resolve_session


def _configure(live: LiveServer, peer: OidcPeer, *, mfa_required: bool = False) -> dict[str, str]:
    _, headers = admin_headers(live.url)
    for email, name in (("ada@acme.test", "Ada"), ("bob@acme.test", "Bob")):
        r = httpx.post(
            f"{live.url}/api/v1/members",
            json={"email": email, "display_name": name, "role": "admin"},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    r = httpx.put(
        f"{live.url}/api/v1/sso/connection",
        json={
            "protocol": "oidc",
            "issuer": peer.issuer,
            "client_id": peer.client_id,
            "client_secret": peer.client_secret,
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert peer.client_secret not in r.text and r.json()["connection"]["has_client_secret"]
    if mfa_required:
        r = httpx.patch(
            f"{live.url}/api/v1/sso/settings", json={"mfa_required": True}, headers=headers
        )
        assert r.status_code == 200, r.text
    return headers


def _login(live: LiveServer, http: httpx.Client, user: str, otp: str) -> httpx.Response:
    start = http.get(f"{live.url}/sso/{SLUG}/login")
    return idp_login(http, start, login=user, password=f"{user}-pw", otp=otp)


def test_mfa_login_sets_a_proven_session_with_safe_cookies(
    live: LiveServer, oidc_peer: OidcPeer
) -> None:
    headers = _configure(live, oidc_peer)
    with httpx.Client() as http:
        done = _login(live, http, "ada", OTP)
        assert done.status_code == 303, done.text
        cookies = done.headers.get_list("set-cookie")
        session_cookie = next(c for c in cookies if c.startswith("passgate_session="))
        lowered = session_cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
        assert "secure" not in lowered  # plain http here; https requests get Secure
        token = http.cookies["passgate_session"]
        now = datetime.now(UTC)
        who = resolve_session(live.container.uow_factory, token, now)
        assert who.mfa_at is not None
        who.require_fresh_mfa(now, timedelta(minutes=15))
        # The cookie authenticates API reads (GET needs no CSRF token).
        r = http.get(f"{live.url}/api/v1/organization")
        assert r.status_code == 200, r.text
    started = events_of(httpx, live.url, headers, "session.started")
    assert started and started[0]["data"]["after"]["methods"][:2] == ["pwd", "otp"]
    assert started[0]["data"]["after"]["mfa_proven"] is True


def test_password_only_login_is_single_factor_and_cannot_pass_fresh_mfa(
    live: LiveServer, oidc_peer: OidcPeer
) -> None:
    _configure(live, oidc_peer)
    with httpx.Client() as http:
        done = _login(live, http, "bob", "")
        assert done.status_code == 303, done.text
        who = resolve_session(
            live.container.uow_factory, http.cookies["passgate_session"], datetime.now(UTC)
        )
        assert who.mfa_at is None
        with pytest.raises(PreconditionFailed):
            who.require_fresh_mfa(datetime.now(UTC), timedelta(minutes=15))
        # A single-factor admin session cannot change SSO settings.
        csrf = http.cookies["passgate_csrf"]
        r = http.patch(
            f"{live.url}/api/v1/sso/settings",
            json={"mfa_required": True},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status_code == 409 and r.json()["error"]["code"] == "mfa_required", r.text


def test_password_only_login_is_refused_when_the_org_requires_mfa(
    live: LiveServer, oidc_peer: OidcPeer
) -> None:
    headers = _configure(live, oidc_peer, mfa_required=True)
    with httpx.Client() as http:
        done = _login(live, http, "bob", "")
        assert done.status_code == 401, done.text
        assert "passgate_session" not in http.cookies
    failed = events_of(httpx, live.url, headers, "sso.login_failed")
    assert [e["data"]["after"]["reason"] for e in failed] == ["mfa_required"]


def test_csrf_relogin_logout_and_tenant_isolation(live: LiveServer, oidc_peer: OidcPeer) -> None:
    headers = _configure(live, oidc_peer)
    # Organization B with objects, created by the operator and B's own key.
    op = {"Authorization": f"Bearer {live.container.settings.operator_key.get_secret_value()}"}  # type: ignore[union-attr]
    r = httpx.post(
        f"{live.url}/api/v1/organizations", json={"name": "B", "slug": "beta"}, headers=op
    )
    b_id = r.json()["id"]
    key = httpx.post(
        f"{live.url}/api/v1/organizations/{b_id}/api_keys", json={"name": "b"}, headers=op
    ).json()["token"]
    b = {"Authorization": f"Bearer {key}"}
    place = httpx.post(
        f"{live.url}/api/v1/places", json={"name": "B HQ", "timezone": "UTC"}, headers=b
    ).json()["id"]
    member = httpx.post(
        f"{live.url}/api/v1/members", json={"email": "x@b.test", "display_name": "X"}, headers=b
    ).json()["id"]
    with httpx.Client() as http:
        assert _login(live, http, "ada", OTP).status_code == 303
        first = http.cookies["passgate_session"]
        # Tenant isolation: A's session reading B's objects gets 404 and no echo.
        for path in (f"/api/v1/places/{place}", f"/api/v1/members/{member}"):
            r = http.get(f"{live.url}{path}")
            assert r.status_code == 404 and place not in r.text and member not in r.text
        # CSRF: a state-changing request by cookie without the token is refused.
        body = {"name": "Lobby", "timezone": "UTC"}
        r = http.post(f"{live.url}/api/v1/places", json=body)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
        r = http.post(f"{live.url}/api/v1/places", json=body, headers={"X-CSRF-Token": "wrong"})
        assert r.status_code == 403
        csrf = http.cookies["passgate_csrf"]
        r = http.post(f"{live.url}/api/v1/places", json=body, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        # Re-login (a fresh IdP sign-in: drop the IdP's own cookies) gives a new session id.
        for cookie in list(http.cookies.jar):
            if not cookie.name.startswith("passgate_"):
                http.cookies.delete(cookie.name, domain=cookie.domain, path=cookie.path)
        assert _login(live, http, "ada", OTP).status_code == 303
        second = http.cookies["passgate_session"]
        assert second.split(".")[0] != first.split(".")[0]
        # Logout revokes the session: the old cookie is refused afterwards.
        csrf = http.cookies["passgate_csrf"]
        r = http.post(f"{live.url}/sso/logout", headers={"X-CSRF-Token": csrf})
        assert r.status_code == 204, r.text
    r = httpx.get(f"{live.url}/api/v1/organization", cookies={"passgate_session": second})
    assert r.status_code == 401
    assert httpx.get(f"{live.url}/api/v1/organization", headers=headers).status_code == 200


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_app_sign_in_code_is_single_use_and_bound_to_pkce(
    live: LiveServer, oidc_peer: OidcPeer
) -> None:
    _configure(live, oidc_peer)
    redirect = "passgate://sso/callback"

    def app_login(http: httpx.Client, challenge: str) -> dict[str, str]:
        start = http.get(
            f"{live.url}/api/v1/app/authorize",
            params={
                "org": SLUG,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "redirect_uri": redirect,
                "state": "app-state-1",
            },
        )
        done = idp_login(http, start, login="ada", password="ada-pw", otp=OTP)
        assert done.status_code == 303, done.text
        location = done.headers["location"]
        assert location.startswith(redirect)
        return query_of(location)

    verifier, challenge = _pkce()
    with httpx.Client() as http:
        answer = app_login(http, challenge)
        assert answer["state"] == "app-state-1"
        token_url = f"{live.url}/api/v1/app/token"
        body = {"code": answer["code"], "code_verifier": verifier, "redirect_uri": redirect}
        r = httpx.post(token_url, json=body)
        assert r.status_code == 200, r.text
        app_token = r.json()["access_token"]
        assert r.json()["mfa_proven"] is True
        # Single use.
        assert httpx.post(token_url, json=body).status_code == 401
        # A wrong verifier is refused (and burns the code).
        other = app_login(http, challenge)
        wrong = {**body, "code": other["code"], "code_verifier": _pkce()[0]}
        assert httpx.post(token_url, json=wrong).status_code == 401
        assert httpx.post(token_url, json={**wrong, "code_verifier": verifier}).status_code == 401
    auth = {"Authorization": f"Bearer {app_token}"}
    assert httpx.get(f"{live.url}/api/v1/organization", headers=auth).status_code in (200, 403)
    assert httpx.post(f"{live.url}/api/v1/app/logout", headers=auth).status_code == 204
    assert httpx.get(f"{live.url}/api/v1/organization", headers=auth).status_code == 401
