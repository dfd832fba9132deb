"""The dashboard runs no inline script: a strict CSP, and the live Events page still updates."""

from __future__ import annotations

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.test_dashboard_browser import _admin_cookie, _signed_in_page
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_events_update_live_under_a_csp_without_inline_scripts(
    client: TestClient, container: Container, browser: Browser
) -> None:
    org = Org(client, "acme")
    token = _admin_cookie(container, org, "ada@acme.test")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        refused: list[str] = []
        page.on(
            "console",
            lambda msg: refused.append(msg.text) if "Content Security" in msg.text else None,
        )
        response = page.goto("/dashboard/events")
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert page.locator("script:not([src])").count() == 0
        # A change made elsewhere shows up in the open page: the script file ran.
        org.post("/places", {"name": "Annex"})
        expect(page.locator("#event-rows")).to_contain_text("place.created", timeout=15_000)
        assert refused == []
