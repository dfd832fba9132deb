"""Swagger UI and ReDoc render the API from local files only: every request stays on this server."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, Request, expect
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_the_api_docs_render_without_any_outside_request(
    container: Container, browser: Browser
) -> None:
    with serve(create_app(container)) as base:
        page = browser.new_page(base_url=base)
        hosts: list[str] = []

        def seen(request: Request) -> None:
            url = urlsplit(request.url)
            # data: and blob: URLs (ReDoc's inline images and worker) never leave the page.
            if url.scheme not in ("data", "blob"):
                hosts.append(url.netloc)

        page.on("request", seen)
        refused: list[str] = []
        page.on(
            "console",
            lambda msg: refused.append(msg.text) if "Content Security Policy" in msg.text else None,
        )
        page.goto("/api/v1/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.get_by_text("/api/v1/app_credentials").first).to_be_visible()
        page.goto("/api/v1/redoc")
        # ReDoc renders each operation as a section headed by its summary.
        expect(page.get_by_role("heading", name="Create a door").first).to_be_visible()
        page.close()
    assert refused == []  # the policy lets both pages run as they are
    assert hosts and set(hosts) == {urlsplit(base).netloc}, set(hosts)
