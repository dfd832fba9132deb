"""https behind a proxy: forwarded headers only from trusted proxies, __Host- cookies, HSTS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tests.conftest import FixedClock, Org

from passgate.bootstrap import Container, build_container
from passgate.config import Settings
from passgate.domain import model as m
from passgate.services.auth.sessions import LoginProof, start_session
from passgate.web import passkit
from passgate.web.app import create_app

PROXY = ("10.0.0.7", 40000)
STRANGER = ("192.0.2.7", 40000)
VIA_TLS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}


@pytest.fixture
def proxied(settings: Settings, clock: FixedClock) -> Iterator[Container]:
    c = build_container(
        settings.model_copy(update={"trusted_proxies": ["10.0.0.0/24"]}),
        clock=clock,  # type: ignore[arg-type]
    )
    yield c
    c.close()


def _client(container: Container, peer: tuple[str, int]) -> TestClient:
    return TestClient(create_app(container), raise_server_exceptions=False, client=peer)


def test_a_trusted_proxy_makes_the_request_https_with_host_cookies_and_hsts(
    proxied: Container,
) -> None:
    with _client(proxied, PROXY) as http:
        page = http.get("/dashboard/login", headers=VIA_TLS)
        assert page.headers["strict-transport-security"] == "max-age=31536000"
        assert http.get("/healthz", headers=VIA_TLS).headers["strict-transport-security"]
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-passgate_csrf=")
        assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie


def test_forwarded_headers_from_anyone_else_are_ignored(proxied: Container) -> None:
    with _client(proxied, STRANGER) as http:
        page = http.get("/dashboard/login", headers=VIA_TLS)
        assert "strict-transport-security" not in page.headers
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("passgate_csrf=") and "Secure" not in cookie


def test_without_the_setting_no_one_is_a_proxy(container: Container) -> None:
    # 127.0.0.1 included: no built-in trust in a local proxy (uvicorn's default).
    with _client(container, ("127.0.0.1", 40000)) as http:
        page = http.get("/dashboard/login", headers=VIA_TLS)
        assert "strict-transport-security" not in page.headers
        assert page.headers["set-cookie"].startswith("passgate_csrf=")


def test_over_https_only_the_host_prefixed_session_cookie_signs_in(
    proxied: Container, clock: FixedClock
) -> None:
    with _client(proxied, PROXY) as http:
        org = Org(http, "acme")
        admin = org.post("/members", {"email": "a@acme.test", "display_name": "A", "role": "admin"})
        with proxied.uow_factory(org.id) as uow:
            issued = start_session(
                uow,
                member=uow.repo(m.Member).get(admin["id"]),
                kind=m.SessionKind.BROWSER,
                proof=LoginProof("oidc", "https://idp", True, ("otp",), clock.now()),
                policy=proxied.session_policy(m.SessionKind.BROWSER),
                now=clock.now(),
            )
        prefixed = {"Cookie": f"__Host-passgate_session={issued.token}", **VIA_TLS}
        bare = {"Cookie": f"passgate_session={issued.token}", **VIA_TLS}
        assert http.get("/api/v1/me", headers=prefixed).status_code == 200
        # A bare cookie may have been planted by a sibling host or over plain http.
        assert http.get("/api/v1/me", headers=bare).status_code == 401


def test_rate_limits_count_the_forwarded_client_only_from_a_trusted_proxy(
    proxied: Container,
) -> None:
    def log(http: TestClient, client_address: str) -> int:
        headers = {"X-Forwarded-For": f"{client_address}, 10.0.0.3"}
        return http.post("/passkit/v1/log", json={"logs": ["x"]}, headers=headers).status_code

    with _client(proxied, PROXY) as http:
        for _ in range(passkit.LOG_LIMIT):
            assert log(http, "198.51.100.1") == 200
        assert log(http, "198.51.100.1") == 429
        assert log(http, "198.51.100.2") == 200  # another client behind the same proxy
    with _client(proxied, STRANGER) as http:
        for n in range(passkit.LOG_LIMIT):
            assert log(http, f"198.51.100.{100 + n}") == 200
        # A forged X-Forwarded-For does not make a fresh client.
        assert log(http, "198.51.100.250") == 429


def test_the_setting_names_a_bad_entry(database_url: str) -> None:
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.300' is not an IP address or network"):
        Settings(database_url=database_url, dev_mode=True, trusted_proxies=["10.0.0.300"])
