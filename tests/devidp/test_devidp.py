"""The development IdP: discovery, a full Passgate login with a real TOTP code, refusals."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pyotp
import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from tests.sso.conftest import (  # noqa: F401 - `live` is a fixture used below
    SLUG,
    LiveServer,
    _wait_port,
    admin_headers,
    free_port,
    live,
)

from passgate.cli import main
from passgate.devidp.app import MFA_ACR, DevClient, create_devidp_app
from passgate.devidp.users import DevUser, check_password, new_user
from passgate.services.auth.sessions import resolve_session

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def user() -> DevUser:
    return new_user("ada", "ada@acme.test", PASSWORD)


@pytest.fixture
def devidp(live: LiveServer, user: DevUser) -> Iterator[str]:  # noqa: F811
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    app = create_devidp_app(
        issuer=issuer,
        users={user.username: user},
        clients=[
            DevClient("passgate", (f"{live.url}/sso/{SLUG}/oidc/callback",), "dev-client-secret")
        ],
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_port(port)
    try:
        yield issuer
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _configure(live: LiveServer, issuer: str) -> None:  # noqa: F811
    _, headers = admin_headers(live.url)
    r = httpx.post(
        f"{live.url}/api/v1/members",
        json={"email": "ada@acme.test", "display_name": "Ada", "role": "admin"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    r = httpx.put(
        f"{live.url}/api/v1/sso/connection",
        json={
            "protocol": "oidc",
            "issuer": issuer,
            "client_id": "passgate",
            "client_secret": "dev-client-secret",
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text


def _sign_in(live: LiveServer, user: DevUser, *, otp: str | None) -> httpx.Response:  # noqa: F811
    with httpx.Client() as http:
        r = http.get(f"{live.url}/sso/{SLUG}/login", follow_redirects=True)
        assert r.status_code == 200 and 'name="password"' in r.text, r.text
        tx = r.text.split('name="tx" value="', 1)[1].split('"', 1)[0]
        r = http.post(
            urljoin(str(r.url), "login"),
            data={"tx": tx, "username": "ada", "password": PASSWORD},
        )
        assert 'name="code"' in r.text, r.text
        form = {"tx": tx, "action": "skip"} if otp is None else {"tx": tx, "code": otp}
        r = http.post(urljoin(str(r.url), "otp"), data=form)
        assert r.status_code == 303, r.text
        return http.get(r.headers["location"])


def test_discovery_document(devidp: str) -> None:
    doc = httpx.get(f"{devidp}/.well-known/openid-configuration").json()
    assert doc["issuer"] == devidp
    assert doc["code_challenge_methods_supported"] == ["S256"]
    keys = httpx.get(doc["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "EC" and "d" not in keys[0]


def test_full_login_with_a_totp_code_is_multi_factor(
    live: LiveServer,  # noqa: F811
    devidp: str,
    user: DevUser,
) -> None:
    _configure(live, devidp)
    done = _sign_in(live, user, otp=pyotp.TOTP(user.totp_secret).now())
    assert done.status_code == 303, done.text
    token = done.cookies["passgate_session"]
    now = datetime.now(UTC)
    who = resolve_session(live.container.uow_factory, token, now)
    who.require_fresh_mfa(now, timedelta(minutes=15))


def test_skipping_the_code_is_single_factor(
    live: LiveServer,  # noqa: F811
    devidp: str,
    user: DevUser,
) -> None:
    _configure(live, devidp)
    done = _sign_in(live, user, otp=None)
    assert done.status_code == 303, done.text
    who = resolve_session(
        live.container.uow_factory, done.cookies["passgate_session"], datetime.now(UTC)
    )
    assert who.mfa_at is None


def test_token_endpoint_rules(user: DevUser) -> None:
    app = create_devidp_app(
        issuer="http://idp.test",
        users={"ada": user},
        clients=[DevClient("app", ("http://rp.test/cb",))],
    )
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )

    def code_for(c: TestClient) -> str:
        r = c.get(
            "/authorize",
            params={
                "client_id": "app",
                "redirect_uri": "http://rp.test/cb",
                "response_type": "code",
                "state": "s",
                "nonce": "n",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        tx = r.text.split('name="tx" value="', 1)[1].split('"', 1)[0]
        wrong = c.post("/login", data={"tx": tx, "username": "ada", "password": "x"})
        assert "Wrong username or password" in wrong.text
        c.post("/login", data={"tx": tx, "username": "ada", "password": PASSWORD})
        assert "Wrong code" in c.post("/otp", data={"tx": tx, "code": "000000"}).text
        r = c.post(
            "/otp",
            data={"tx": tx, "code": pyotp.TOTP(user.totp_secret).now()},
            follow_redirects=False,
        )
        return parse_qs(urlparse(r.headers["location"]).query)["code"][0]

    with TestClient(app) as c:
        form = {
            "grant_type": "authorization_code",
            "redirect_uri": "http://rp.test/cb",
            "client_id": "app",
            "code_verifier": verifier,
        }
        code = code_for(c)
        r = c.post("/token", data={**form, "code": code})
        assert r.status_code == 200, r.text
        keys = KeySet.import_key_set(c.get("/jwks").json())
        claims = jwt.decode(r.json()["id_token"], keys, algorithms=["ES256"]).claims
        assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == MFA_ACR
        assert claims["nonce"] == "n" and claims["aud"] == "app"
        assert c.post("/token", data={**form, "code": code}).status_code == 400  # single use
        code = code_for(c)
        bad = c.post("/token", data={**form, "code": code, "code_verifier": "x" * 43})
        assert bad.status_code == 400
        assert c.post("/token", data={**form, "code": code}).status_code == 400  # burnt


def test_password_hashes(user: DevUser) -> None:
    assert check_password(PASSWORD, user.password_hash)
    assert not check_password("wrong", user.password_hash)
    assert not check_password(PASSWORD, "md5$x$y")


def test_refuses_to_start_outside_dev_mode() -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["devidp", "serve", "--redirect-uri", "http://127.0.0.1:8000/sso/x/oidc/callback"],
        env={"PASSGATE_DEV_MODE": "0"},
    )
    assert result.exit_code != 0
    assert "only in development mode" in result.output
