"""Credentials > Apple Passes in a real browser: list, devices, suspend/resume/delete (R17-R20)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.dashboard.test_dashboard_browser import _admin_cookie, _shot, _signed_in_page
from tests.livesrv import serve
from tests.passes.helpers import eligible_member, iphone, watch

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_an_admin_suspends_resumes_and_deletes_a_pass(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    ann = eligible_member(client)
    added = ann.add({"iphone": iphone(), "watch": watch(locked=False)})
    assert added.status_code == 200, added.text
    pass_id = added.json()["pass_id"]
    token = _admin_cookie(container, ann.org, "ada@example.com")

    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard")
        page.get_by_role("link", name="Credentials").click()
        expect(page.get_by_role("link", name="Apple Passes")).to_have_attribute(
            "aria-current", "page"
        )
        row = page.locator(f"[data-pass={pass_id}]")
        expect(row.locator("[data-devices=both]")).to_have_text("iPhone + Apple Watch")
        expect(row.get_by_text("Active")).to_be_visible()
        _shot(page, screenshot_dir, "apple-passes")

        page.get_by_label("Devices").select_option("none")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator(f"[data-pass={pass_id}]")).to_have_count(0)
        page.get_by_label("Devices").select_option("both")
        page.get_by_role("button", name="Filter").click()

        page.get_by_role("link", name="Ann Example").click()
        expect(page.get_by_role("heading", name="Apple Pass of Ann Example")).to_be_visible()
        expect(page.locator("[data-device-kind=iphone][data-device-status=active]")).to_have_count(
            1
        )
        expect(page.locator("[data-device-kind=watch][data-device-status=active]")).to_have_count(1)
        _shot(page, screenshot_dir, "apple-pass")

        page.get_by_role("button", name="Suspend").click()
        dialog = page.get_by_role("alertdialog")
        expect(dialog).to_contain_text("Suspend the Apple Pass of Ann Example?")
        expect(dialog).to_contain_text("stop opening doors")
        dialog.get_by_role("button", name="Yes, suspend").click()
        expect(page.get_by_role("status")).to_contain_text("Apple Pass suspended.")
        expect(page.locator("#pass-status")).to_have_text("Suspended")
        api = client.get(f"/api/v1/apple_passes/{pass_id}", headers=ann.org.headers).json()
        assert api["status"] == "suspended"

        page.get_by_role("button", name="Resume").click()
        expect(page.locator("#pass-status")).to_have_text("Active")

        page.get_by_role("button", name="Delete").click()
        expect(page.get_by_role("alertdialog")).to_contain_text("revoked for good")
        page.get_by_role("link", name="Cancel").click()
        expect(page.locator("#pass-status")).to_have_text("Active")
        page.get_by_role("button", name="Delete").click()
        page.get_by_role("button", name="Yes, delete").click()
        expect(page.locator("#pass-status")).to_have_text("Deleted")
        expect(page.locator("[data-device-status=revoked]")).to_have_count(2)
        expect(page.get_by_role("button", name="Suspend")).to_have_count(0)

    events = client.get("/api/v1/events?category=audit", headers=ann.org.headers).json()
    kinds = {e["type"]: e for e in events}
    for kind in ("apple_pass.suspended", "apple_pass.resumed", "apple_pass.deleted"):
        assert kinds[kind]["actor_type"] == "member" and kinds[kind]["data"]["session_id"]


def test_another_organizations_admin_cannot_see_or_act_on_the_pass(
    client: TestClient, container: Container, browser: Browser
) -> None:
    ann = eligible_member(client, slug="alpha")
    pass_id = ann.add({"iphone": iphone()}).json()["pass_id"]
    other = eligible_member(client, slug="beta", email="bo@example.com")
    token = _admin_cookie(container, other.org, "eve@example.com")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/credentials/apple-passes")
        assert pass_id not in page.content() and "Ann Example" not in page.content()
        response = page.goto(f"/dashboard/credentials/apple-passes/{pass_id}")
        assert response is not None and response.status == 404
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "passgate_csrf")
        posted = page.request.post(
            f"/dashboard/credentials/apple-passes/{pass_id}/suspend", form={"csrf_token": csrf}
        )
        assert posted.status == 404
    assert (
        client.get(f"/api/v1/apple_passes/{pass_id}", headers=ann.org.headers).json()["status"]
        == "active"
    )
