"""SSO test peers: the real oidc-provider (Node), a live Passgate server, a fake IdP transport."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
import uvicorn
from joserfc.jwk import KeySet, RSAKey
from tests.conftest import OPERATOR_KEY, SECRET_KEY

from passgate.bootstrap import Container, build_container
from passgate.config import Settings
from passgate.web.app import create_app

PEER_DIR = Path(__file__).resolve().parents[1] / "peers" / "oidc"
SLUG = "acme"
OTP = "424242"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, deadline_s: float = 15.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port}")


@dataclass
class LiveServer:
    url: str
    container: Container


@pytest.fixture
def live(database_url: str) -> Iterator[LiveServer]:
    """Passgate served by uvicorn on a loopback port, with the real clock."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        database_url=database_url,
        dev_mode=True,
        operator_key=OPERATOR_KEY,
        secret_key=SECRET_KEY,
        public_url=url,
    )
    container = build_container(settings)
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_port(port)
    try:
        yield LiveServer(url=url, container=container)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        container.close()


@dataclass
class OidcPeer:
    issuer: str
    client_id: str
    client_secret: str
    acr: str


@pytest.fixture
def oidc_peer(live: LiveServer, tmp_path: Path) -> Iterator[OidcPeer]:
    """The npm package oidc-provider, started with `node server.mjs` on a free port."""
    node = shutil.which("node")
    if node is None or not (PEER_DIR / "node_modules" / "oidc-provider").exists():
        pytest.fail("oidc-provider is not installed: run `npm ci` in tests/peers/oidc")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    key = RSAKey.generate_key(2048, parameters={"kid": "peer-1", "use": "sig", "alg": "RS256"})
    config = {
        "issuer": issuer,
        "acr": "urn:passgate:test:mfa",
        "jwks": KeySet([key]).as_dict(private=True),
        "client": {
            "client_id": "passgate",
            "client_secret": "peer-client-secret-0123456789abcdef",
            "redirect_uris": [f"{live.url}/sso/{SLUG}/oidc/callback"],
        },
        "users": {
            "ada": {"password": "ada-pw", "otp": OTP, "sub": "sub-ada", "email": "ada@acme.test"},
            "bob": {"password": "bob-pw", "otp": OTP, "sub": "sub-bob", "email": "bob@acme.test"},
        },
    }
    path = tmp_path / "peer.json"
    path.write_text(json.dumps(config))
    proc = subprocess.Popen(
        [node, "server.mjs", str(port), str(path)],
        cwd=PEER_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_port(port)
        yield OidcPeer(
            issuer, "passgate", "peer-client-secret-0123456789abcdef", "urn:passgate:test:mfa"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def admin_headers(base: str) -> tuple[str, dict[str, str]]:
    """Create organization `acme` on a live server; returns (org id, admin key headers)."""
    op = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    r = httpx.post(f"{base}/api/v1/organizations", json={"name": "Acme", "slug": SLUG}, headers=op)
    assert r.status_code == 201, r.text
    org_id = r.json()["id"]
    r = httpx.post(
        f"{base}/api/v1/organizations/{org_id}/api_keys", json={"name": "admin"}, headers=op
    )
    assert r.status_code == 201, r.text
    return org_id, {"Authorization": f"Bearer {r.json()['token']}"}


def follow_until(
    http: httpx.Client, response: httpx.Response, stop: Callable[[str], bool]
) -> httpx.Response:
    """Follow redirects by hand until the next URL satisfies ``stop``; returns that response."""
    for _ in range(20):
        if response.status_code not in (302, 303, 307) or stop(str(response.url)):
            return response
        target = urljoin(str(response.url), response.headers["location"])
        if not target.startswith("http"):
            return response  # an app redirect (passgate://...): the caller reads it
        if stop(target):
            return http.get(target)
        response = http.get(target)
    raise AssertionError("too many redirects")


def idp_login(
    http: httpx.Client, start: httpx.Response, *, login: str, password: str, otp: str
) -> httpx.Response:
    """Drive the peer's login page; returns Passgate's answer at its callback."""
    page = follow_until(http, start, lambda url: "/interaction/" in url or "/oidc/callback" in url)
    if "/oidc/callback" in str(page.url):
        return page  # the IdP still had a session: no login page this time
    assert page.status_code == 200, page.text
    action = page.text.split('action="', 1)[1].split('"', 1)[0]
    r = http.post(
        urljoin(str(page.url), action), data={"login": login, "password": password, "otp": otp}
    )
    return follow_until(http, r, lambda url: "/oidc/callback" in url)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def events_of(http: Any, base: str, headers: dict[str, str], type_: str) -> list[dict[str, Any]]:
    r = http.get(f"{base}/api/v1/events", params={"type": type_, "limit": 500}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())
