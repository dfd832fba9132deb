"""Credentials > App (MotionSense) in a real browser: list, suspend, resume, delete (R27)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.dashboard.test_dashboard_browser import _admin_cookie, _shot, _signed_in_page
from tests.livesrv import serve
from tests.passes.helpers import add_app_credential, eligible_member

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_an_admin_suspends_resumes_and_deletes_an_app_credential(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    ann = eligible_member(client)
    cred_id = add_app_credential(client, ann.org, ann.member_id)
    token = _admin_cookie(container, ann.org, "ada@example.com")

    def api_status() -> str:
        got = client.get(f"/api/v1/app_credentials/{cred_id}", headers=ann.org.headers)
        return str(got.json()["status"])

    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/credentials/apple-passes")
        page.get_by_role("link", name="App (MotionSense)").click()
        row = page.locator(f"[data-app-credential={cred_id}]")
        expect(row).to_contain_text("Ann Example")
        expect(row).to_contain_text("Active")
        _shot(page, screenshot_dir, "app-credentials")

        row.get_by_role("button", name="Suspend").click()
        expect(page.locator(f"[data-app-credential={cred_id}]")).to_contain_text("Suspended")
        assert api_status() == "suspended"
        page.locator(f"[data-app-credential={cred_id}]").get_by_role(
            "button", name="Resume"
        ).click()
        expect(page.locator(f"[data-app-credential={cred_id}]")).to_contain_text("Active")

        page.locator(f"[data-app-credential={cred_id}]").get_by_role(
            "button", name="Delete"
        ).click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text("stop opening doors at once")
        dialog.get_by_role("button", name="Yes, delete").click()
        expect(page.locator(f"[data-app-credential={cred_id}]")).to_contain_text("Deleted")
        expect(
            page.locator(f"[data-app-credential={cred_id}]").get_by_role("button")
        ).to_have_count(0)
        assert api_status() == "deleted"
