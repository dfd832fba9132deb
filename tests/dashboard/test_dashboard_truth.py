"""Every page tells the truth: passes of an ineligible organization, tampered and offline
readers, model names, devices told apart; error pages; a member's own page (R26)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.shots import PHONE, shots
from tests.dashboard.test_dashboard_browser import _admin_cookie, _signed_in_page
from tests.livesrv import serve
from tests.passes.helpers import eligible_member, iphone

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.auth import sessions
from passgate.web.app import create_app


def _member_cookie(container: Container, org_id: str, member_id: str) -> str:
    proof = sessions.LoginProof(
        "oidc", "https://idp.test", True, ("pwd", "otp"), container.clock.now()
    )
    with container.uow_factory(org_id) as uow:
        issued = sessions.start_session(
            uow,
            member=uow.repo(m.Member).get(member_id),
            kind=m.SessionKind.BROWSER,
            proof=proof,
            policy=container.session_policy(m.SessionKind.BROWSER),
            now=container.clock.now(),
        )
    return issued.token


def test_a_pass_of_an_ineligible_organization_says_it_opens_nothing(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    ann = eligible_member(client)
    assert ann.add({"iphone": iphone("phone-aaaa")}).status_code == 200
    second = ann.add({"iphone": iphone("phone-bbbb")})  # a new iPhone replaces the first
    assert second.status_code == 200, second.text
    pass_id = second.json()["pass_id"]
    token = _admin_cookie(container, ann.org, "ada@example.com")

    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/credentials/apple-passes")
        row = page.locator(f"[data-pass={pass_id}]")
        expect(row.get_by_text("Active", exact=True)).to_be_visible()
        expect(page.locator("[data-truth=org-not-eligible]")).to_have_count(0)

        # The organization stops enforcing SSO: every tap is denied from now on (R1).
        with container.uow_factory(ann.org.id) as uow:
            org = uow.organizations.get(ann.org.id)
            org.sso_enforced = False
            uow.organizations.update(org)
        page.reload()
        expect(row.locator("[data-truth=org-not-eligible]")).to_have_text(
            "Active, but not opening doors"
        )
        expect(row.locator("[data-reason=sso_not_enforced]")).to_be_visible()
        expect(page.locator("p.banner[data-truth=org-not-eligible]")).to_contain_text(
            "not enforced"
        )
        shots(page, screenshot_dir, "apple-passes-not-eligible")

        page.goto(f"/dashboard/credentials/apple-passes/{pass_id}")
        expect(page.locator("#pass-status [data-reason=sso_not_enforced]")).to_be_visible()
        # Two iPhones of one model, told apart by name, with their own dates.
        expect(page.get_by_role("cell", name="iPhone 15 Pro ···AAAA")).to_be_visible()
        expect(page.get_by_role("cell", name="iPhone 15 Pro ···BBBB")).to_be_visible()
        expect(page.locator("[data-device-status=replaced]")).to_contain_text("never")

        page.get_by_role("button", name="Suspend").click()
        dialog = page.get_by_role("alertdialog")
        # The dialog names exactly what stops working: the active iPhone, no watch.
        expect(dialog).to_contain_text(
            "These will stop opening doors at once: iPhone 15 Pro ···BBBB."
        )
        expect(dialog).not_to_contain_text("Watch")
        expect(dialog).not_to_contain_text("···AAAA")
        shots(page, screenshot_dir, "apple-pass-suspend")


def test_doors_and_readers_show_tampered_and_offline_readers(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    back = org.post("/doors", {"place_id": ids["place"], "name": "Back"})
    back_reader = org.post(
        "/readers",
        {
            "door_id": back["id"],
            "name": "Back reader",
            "model": "reader_pro_2_1",
            "firmware": "2.1.0",
        },
    )
    now = container.clock.now()
    with container.uow_factory(org.id) as uow:
        readers = uow.repo(m.Reader)
        front = readers.get(ids["reader"])
        front.tampered, front.online, front.last_seen_at = True, True, now - timedelta(seconds=5)
        readers.update(front)
        # Says online, but not heard from for ten minutes (its server stopped): offline.
        rear = readers.get(back_reader["id"])
        rear.online, rear.last_seen_at = True, now - timedelta(minutes=10)
        readers.update(rear)
    token = _admin_cookie(container, org, "ada@example.com")

    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/doors")
        front_row = page.locator(f"[data-door={ids['door']}]")
        expect(front_row.get_by_text("Not ready")).to_be_visible()
        expect(front_row.locator("[data-reason=reader_tampered]")).to_contain_text("tampering")
        back_row = page.locator(f"[data-door={back['id']}]")
        expect(back_row.locator("[data-reason=reader_offline]")).to_contain_text("offline")
        expect(back_row).to_contain_text("Reader Pro 2.1")
        expect(page.get_by_text("reader_pro_2_1")).to_have_count(0)
        shots(page, screenshot_dir, "doors")

        page.goto("/dashboard/readers")
        front_reader = page.locator(f"[data-reader={ids['reader']}]")
        expect(front_reader.locator("[data-online=yes]")).to_contain_text("last seen 5 s ago")
        rear_reader = page.locator(f"[data-reader={back_reader['id']}]")
        expect(rear_reader.locator("[data-online=no]")).to_contain_text("Offline")
        expect(rear_reader).to_contain_text("last seen 10 min ago")
        shots(page, screenshot_dir, "readers")

        # Clearing the tamper brings the front door's verdict back.
        front_reader.get_by_role("button", name="Clear tamper").click()
        page.goto("/dashboard/doors")
        expect(front_row.locator("[data-reason=reader_tampered]")).to_have_count(0)
        expect(back_row.locator("[data-reason=reader_offline]")).to_be_visible()


def test_a_member_lands_on_their_own_page_and_signs_out(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    ann = eligible_member(client)
    assert ann.add({"iphone": iphone("phone-aaaa")}).status_code == 200
    ids = ann.org.world()
    ann.org.post("/access_rights", {"member_id": ann.member_id, "group_id": ids["group"]})
    token = _member_cookie(container, ann.org.id, ann.member_id)

    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/")  # where the SSO sign-in sends every browser
        expect(page).to_have_url(f"{base}/dashboard/me")
        expect(page.get_by_role("heading", name="My access")).to_be_visible()
        expect(page.locator("header .who")).to_have_text("Signed in as Ann Example (member)")
        expect(page.locator("#my-pass-status")).to_have_text("Active")
        expect(page.get_by_role("cell", name="iPhone 15 Pro ···AAAA")).to_be_visible()
        expect(page.locator(f"[data-door={ids['door']}]")).to_contain_text("Staff")
        # Nothing of the administrators' side is offered, nor anyone else's data.
        expect(page.get_by_role("link", name="People")).to_have_count(0)
        expect(page.get_by_text("m@example.com")).to_have_count(0)
        shots(page, screenshot_dir, "my-access")

        # An administrators' page refuses with a page that leads back, not a dead end.
        response = page.goto("/dashboard/people")
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        page.get_by_role("link", name="My access").first.click()
        expect(page).to_have_url(f"{base}/dashboard/me")

        page.set_viewport_size(PHONE)
        page.get_by_role("button", name="Menu").click()
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(f"{base}/dashboard/login")
        page.goto("/dashboard/me")
        expect(page).to_have_url(f"{base}/dashboard/login")


def test_browsers_get_error_pages_and_the_api_gets_json(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    org = Org(client, "acme")
    token = _admin_cookie(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        response = page.goto("/no/such/page")
        assert response is not None and response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(page.get_by_role("link", name="Back to the dashboard")).to_be_visible()
        shots(page, screenshot_dir, "error-404")

        response = page.goto("/dashboard/credentials/apple-passes/ap_missing")
        assert response is not None and response.status == 404
        expect(page.get_by_role("alert")).to_have_text("apple pass not found")

    api = client.get("/api/v1/no_such_thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    missing = client.get("/api/v1/apple_passes/ap_missing", headers=org.headers)
    assert missing.json()["error"]["message"] == "apple pass not found"
    assert missing.json()["error"]["field"] == "apple_pass_id"
