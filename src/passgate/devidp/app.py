"""The development IdP's HTTP side: discovery, JWKS, login (password, then TOTP), token.

A real OpenID provider in miniature: authorization code + PKCE (S256 only),
ES256-signed ID tokens. A correct TOTP code gives amr ["pwd", "otp"] and an acr;
"skip" gives amr ["pwd"], a single-factor login, so both paths can be demonstrated.
State lives in memory: it is a development tool, one process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from passgate.devidp.users import DevUser, check_password

MFA_ACR = "urn:passgate:devidp:mfa"
_TX_TTL = timedelta(minutes=10)
_CODE_TTL = timedelta(seconds=60)


@dataclass(frozen=True)
class DevClient:
    client_id: str
    redirect_uris: tuple[str, ...]
    client_secret: str | None = None


@dataclass
class _Pending:
    client_id: str
    redirect_uri: str
    state: str
    nonce: str
    challenge: str
    created: datetime
    user: DevUser | None = None


@dataclass
class _Code:
    pending: _Pending
    user: DevUser
    amr: list[str]
    auth_time: datetime
    created: datetime
    used: bool = False


@dataclass
class _Store:
    pending: dict[str, _Pending] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>Passgate development IdP</h1>{body}</body></html>"
    )


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _error(status: int, code: str, text: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": text}, status_code=status)


def create_devidp_app(
    *,
    issuer: str,
    users: dict[str, DevUser],
    clients: list[DevClient],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    key: ECKey | None = None,
) -> FastAPI:
    signing = key or ECKey.generate_key("P-256", parameters={"kid": "devidp-1", "alg": "ES256"})
    by_id = {c.client_id: c for c in clients}
    store = _Store()
    app = FastAPI(title="Passgate development IdP", openapi_url=None, docs_url=None)

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
            "claims_supported": ["sub", "email", "email_verified", "amr", "acr", "auth_time"],
            "acr_values_supported": [MFA_ACR],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return dict(KeySet([signing]).as_dict(private=False))

    @app.get("/authorize", response_model=None)
    def authorize(
        client_id: Annotated[str, Query(max_length=200)] = "",
        redirect_uri: Annotated[str, Query(max_length=2000)] = "",
        response_type: Annotated[str, Query(max_length=20)] = "",
        state: Annotated[str, Query(max_length=500)] = "",
        nonce: Annotated[str, Query(max_length=200)] = "",
        code_challenge: Annotated[str, Query(max_length=200)] = "",
        code_challenge_method: Annotated[str, Query(max_length=10)] = "",
    ) -> Response:
        client = by_id.get(client_id)
        # Never redirect to an unregistered URI: show the error here instead.
        if client is None or redirect_uri not in client.redirect_uris:
            return _page("Error", "<p>Unknown client or redirect URI.</p>")
        if response_type != "code" or code_challenge_method != "S256" or not code_challenge:
            query = urlencode({"error": "invalid_request", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", status_code=303)
        tx = secrets.token_urlsafe(24)
        with store.lock:
            store.pending[tx] = _Pending(
                client_id, redirect_uri, state, nonce, code_challenge, now()
            )
        return _login_page(tx, "")

    def _login_page(tx: str, message: str) -> HTMLResponse:
        return _page(
            "Sign in",
            f"<p>{html.escape(message)}</p>"
            '<form method="post" action="login">'
            f'<input type="hidden" name="tx" value="{html.escape(tx)}">'
            '<label>Username <input name="username" autocomplete="username"></label>'
            '<label>Password <input name="password" type="password"></label>'
            "<button>Next</button></form>",
        )

    def _otp_page(tx: str, message: str) -> HTMLResponse:
        return _page(
            "One-time code",
            f"<p>{html.escape(message)}</p>"
            '<form method="post" action="otp">'
            f'<input type="hidden" name="tx" value="{html.escape(tx)}">'
            '<label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code">'
            '</label><button name="action" value="verify">Verify</button>'
            '<button name="action" value="skip">Skip (single-factor)</button></form>',
        )

    def _take(tx: str) -> _Pending | None:
        with store.lock:
            pending = store.pending.get(tx)
            if pending is not None and now() - pending.created > _TX_TTL:
                del store.pending[tx]
                return None
            return pending

    @app.post("/login", response_model=None)
    def login(
        tx: Annotated[str, Form(max_length=100)],
        username: Annotated[str, Form(max_length=200)] = "",
        password: Annotated[str, Form(max_length=500)] = "",
    ) -> Response:
        pending = _take(tx)
        if pending is None:
            return _page("Error", "<p>This sign-in expired; start again.</p>")
        user = users.get(username)
        if user is None or not check_password(password, user.password_hash):
            return _login_page(tx, "Wrong username or password.")
        pending.user = user
        return _otp_page(tx, "Enter the code from your authenticator app.")

    @app.post("/otp", response_model=None)
    def otp(
        tx: Annotated[str, Form(max_length=100)],
        action: Annotated[str, Form(max_length=10)] = "verify",
        code: Annotated[str, Form(max_length=10)] = "",
    ) -> Response:
        pending = _take(tx)
        if pending is None or pending.user is None:
            return _page("Error", "<p>This sign-in expired; start again.</p>")
        if action == "skip":
            amr = ["pwd"]
        elif pending.user.totp_ok(code):
            amr = ["pwd", "otp"]
        else:
            return _otp_page(tx, "Wrong code; try again.")
        with store.lock:
            store.pending.pop(tx, None)
            issued = secrets.token_urlsafe(32)
            store.codes[issued] = _Code(pending, pending.user, amr, now(), now())
        query = urlencode({"code": issued, "state": pending.state})
        return RedirectResponse(f"{pending.redirect_uri}?{query}", status_code=303)

    @app.post("/token")
    def token(
        request: Request,
        grant_type: Annotated[str, Form(max_length=40)] = "",
        code: Annotated[str, Form(max_length=200)] = "",
        redirect_uri: Annotated[str, Form(max_length=2000)] = "",
        code_verifier: Annotated[str, Form(max_length=200)] = "",
        client_id: Annotated[str, Form(max_length=200)] = "",
    ) -> JSONResponse:
        if grant_type != "authorization_code":
            return _error(400, "unsupported_grant_type", "only authorization_code")
        with store.lock:
            grant = store.codes.pop(code, None)  # single use, even when the checks below fail
        if grant is None or now() - grant.created > _CODE_TTL:
            return _error(400, "invalid_grant", "unknown, used or expired code")
        p = grant.pending
        if not _client_authenticated(by_id[p.client_id], request.headers.get("authorization")):
            return _error(401, "invalid_client", "client authentication failed")
        if client_id != p.client_id or redirect_uri != p.redirect_uri:
            return _error(400, "invalid_grant", "client or redirect_uri mismatch")
        if not hmac.compare_digest(_s256(code_verifier).encode(), p.challenge.encode()):
            return _error(400, "invalid_grant", "PKCE verification failed")
        issued_at = now()
        access = secrets.token_urlsafe(32)
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": p.client_id,
            "sub": grant.user.subject,
            "email": grant.user.email,
            "email_verified": True,
            "iat": int(issued_at.timestamp()),
            "exp": int((issued_at + timedelta(minutes=5)).timestamp()),
            "auth_time": int(grant.auth_time.timestamp()),
            "amr": grant.amr,
            "at_hash": _half_hash(access),
        }
        if p.nonce:
            claims["nonce"] = p.nonce
        if "otp" in grant.amr:
            claims["acr"] = MFA_ACR
        id_token = jwt.encode({"alg": "ES256", "kid": signing.kid}, claims, signing)
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            }
        )

    return app


def _half_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _client_authenticated(client: DevClient, header: str | None) -> bool:
    """client_secret_basic when the client has a secret; public PKCE clients otherwise."""
    if client.client_secret is None:
        return True
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    given_id, _, given_secret = decoded.partition(":")
    return given_id == client.client_id and hmac.compare_digest(
        given_secret.encode(), client.client_secret.encode()
    )
