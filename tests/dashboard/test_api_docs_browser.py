"""Swagger UI renders the API from local files only: every request stays on this server."""

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
            hosts.append(urlsplit(request.url).netloc)

        page.on("request", seen)
        page.goto("/api/v1/docs")
        expect(page.locator(".opblock").first).to_be_visible()
        expect(page.get_by_text("/api/v1/app_credentials").first).to_be_visible()
        page.close()
    assert hosts and set(hosts) == {urlsplit(base).netloc}, set(hosts)
