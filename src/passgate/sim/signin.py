"""The Passgate app's sign-in: authorization code + PKCE, through whatever IdP the org uses.

The app opens ``/api/v1/app/authorize`` in a web view; Passgate sends it on to the
organization's identity provider. This module plays the web view and the person: it
follows redirects, fills the login forms it finds (username, password, one-time code;
or presses "skip" for a single-factor login), stops at the app's own redirect URI and
trades the code and the PKCE verifier for an app session token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlparse

import httpx

APP_REDIRECT = "passgate://sso/callback"
MAX_STEPS = 20
USER_FIELDS = ("username", "login", "email", "user")
CODE_FIELDS = ("code", "otp", "totp")


class SignInError(Exception):
    """The sign-in did not end with an app token; the message says where it stopped."""


@dataclass
class _Form:
    action: str
    method: str
    inputs: dict[str, str] = field(default_factory=dict)  # name -> value
    kinds: dict[str, str] = field(default_factory=dict)  # name -> input type
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(a.get("action", ""), a.get("method", "get").lower()))
        elif self.forms and tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind == "submit":
                self.forms[-1].buttons.append((a["name"], a.get("value", "")))
            else:
                self.forms[-1].inputs[a["name"]] = a.get("value", "")
                self.forms[-1].kinds[a["name"]] = kind
        elif self.forms and tag == "button":
            self.forms[-1].buttons.append((a.get("name", ""), a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.text.append(data.strip())


@dataclass(frozen=True)
class AppSession:
    token: str
    mfa_proven: bool


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _fill(
    form: _Form, username: str, password: str, otp: Callable[[], str] | None
) -> dict[str, str]:
    data = dict(form.inputs)
    for name, kind in form.kinds.items():
        lname = name.lower()
        if kind == "password":
            data[name] = password
        elif lname in USER_FIELDS:
            data[name] = username
        elif lname in CODE_FIELDS and otp is not None:
            data[name] = otp()
    # Pick the button: "skip" only when the person has no code to give.
    wanted = "skip" if otp is None else None
    for name, value in form.buttons:
        if not name:
            continue
        if wanted is not None and value.lower() == wanted:
            data[name] = value
            break
        if wanted is None and value.lower() != "skip":
            data[name] = value
            break
    return data


def sign_in(
    http: httpx.Client,
    server: str,
    org_slug: str,
    *,
    username: str,
    password: str,
    otp: Callable[[], str] | None,
    redirect_uri: str = APP_REDIRECT,
) -> AppSession:
    """The whole app sign-in; ``otp=None`` skips the second factor (single-factor login)."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    response = http.get(
        f"{server.rstrip('/')}/api/v1/app/authorize",
        params={
            "org": org_slug,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "redirect_uri": redirect_uri,
            "state": state,
        },
    )
    last_page = ""
    for _ in range(MAX_STEPS):
        if response.status_code in (301, 302, 303, 307, 308):
            target = urljoin(str(response.url), response.headers.get("location", ""))
            if target.startswith(redirect_uri):
                return _exchange(http, server, target, state, verifier, redirect_uri)
            response = http.get(target)
            continue
        if response.status_code >= 400:
            raise SignInError(
                f"HTTP {response.status_code} at {response.url}: {response.text[:300]}"
            )
        parser = _FormParser()
        parser.feed(response.text)
        posts = [f for f in parser.forms if f.method == "post"]
        page = " ".join(parser.text)
        if not posts:
            raise SignInError(f"no sign-in form at {response.url}: {page[:300]}")
        if page == last_page:
            raise SignInError(f"the identity provider refused the sign-in: {page[:300]}")
        last_page = page
        form = posts[0]
        response = http.post(
            urljoin(str(response.url), form.action), data=_fill(form, username, password, otp)
        )
    raise SignInError("too many steps; the sign-in never reached the app")


def _exchange(
    http: httpx.Client, server: str, location: str, state: str, verifier: str, redirect_uri: str
) -> AppSession:
    query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    if "code" not in query:
        raise SignInError(f"sign-in failed: {query.get('error', 'no code')}")
    if query.get("state") != state:
        raise SignInError("the state came back changed: refusing the code")
    r = http.post(
        f"{server.rstrip('/')}/api/v1/app/token",
        json={"code": query["code"], "code_verifier": verifier, "redirect_uri": redirect_uri},
    )
    if r.status_code != 200:
        raise SignInError(f"token exchange refused with HTTP {r.status_code}: {r.text[:300]}")
    body = r.json()
    return AppSession(token=str(body["access_token"]), mfa_proven=bool(body["mfa_proven"]))
