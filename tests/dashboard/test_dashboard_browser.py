"""The admin dashboard in a real headless Chromium (R13, R14, R17-R21 as far as built)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect
from tests.conftest import Org
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.auth import sessions
from passgate.web.app import create_app


def _admin_cookie(container: Container, org: Org, email: str) -> str:
    created = org.post("/members", {"email": email, "display_name": "Ada Admin", "role": "admin"})
    proof = sessions.LoginProof(
        protocol="oidc",
        idp="https://idp.test",
        mfa_proven=True,
        methods=("pwd", "otp"),
        auth_time=container.clock.now(),
    )
    with container.uow_factory(org.id) as uow:
        member = uow.repo(m.Member).get(created["id"])
        issued = sessions.start_session(
            uow,
            member=member,
            kind=m.SessionKind.BROWSER,
            proof=proof,
            policy=container.session_policy(m.SessionKind.BROWSER),
            now=container.clock.now(),
        )
    return issued.token


def _signed_in_page(browser: Browser, base: str, token: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1200, "height": 900})
    context.add_cookies([{"name": "passgate_session", "value": token, "url": base}])
    return context.new_page()


def _shot(page: Page, where: Path | None, name: str) -> None:
    if where is not None:
        page.screenshot(path=str(where / f"{name}.png"), full_page=True)


def test_an_admin_walks_the_dashboard(
    client: TestClient, container: Container, browser: Browser, screenshot_dir: Path | None
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    lab = org.post("/doors", {"place_id": ids["place"], "name": "Lab"})
    org.post(
        "/readers",
        {
            "door_id": lab["id"],
            "name": "Lab reader",
            "model": "reader_pro_2_1",
            "firmware": "2.1.0",
            "tamper_protection": False,
        },
    )
    with container.uow_factory(org.id) as uow:
        reader = uow.repo(m.Reader).get(ids["reader"])
        reader.tampered = True
        uow.repo(m.Reader).update(reader)
    token = _admin_cookie(container, org, "ada@example.com")

    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.locator("[data-reason=sso_not_configured]")).to_be_visible()
        _shot(page, screenshot_dir, "overview")

        page.get_by_role("link", name="Doors").click()
        front = page.locator(f"[data-door={ids['door']}]")
        expect(front.get_by_text("Ready")).to_be_visible()
        expect(
            page.locator(f"[data-door={lab['id']}] [data-reason=tamper_protection_off]")
        ).to_be_visible()
        _shot(page, screenshot_dir, "doors")

        page.get_by_role("link", name="Readers").click()
        row = page.locator(f"[data-reader={ids['reader']}]")
        expect(row.get_by_text("Tampered")).to_be_visible()
        _shot(page, screenshot_dir, "readers")
        row.get_by_role("button", name="Clear tamper").click()
        expect(page.get_by_role("status")).to_contain_text("Tamper cleared on R1")
        expect(row.get_by_text("Tampered")).to_have_count(0)

        page.get_by_role("link", name="People").click()
        page.get_by_label("Name", exact=True).fill("Bob Builder")
        page.get_by_label("E-mail").fill("bob@example.com")
        page.get_by_role("button", name="Add person").click()
        expect(page.get_by_role("cell", name="Bob Builder")).to_be_visible()

        page.get_by_role("link", name="Groups").click()
        page.get_by_label("Name", exact=True).fill("Lab crew")
        page.get_by_label("Lab", exact=True).check()
        page.get_by_role("button", name="Create group").click()
        expect(page.get_by_role("cell", name="Lab crew")).to_be_visible()
        page.get_by_label("Person", exact=True).select_option(label="Bob Builder")
        page.get_by_label("Group", exact=True).select_option(label="Lab crew")
        page.get_by_role("button", name="Give access").click()
        expect(page.get_by_role("status")).to_contain_text("Access given")
        _shot(page, screenshot_dir, "groups")

        page.get_by_role("link", name="Events").click()
        page.get_by_label("Type", exact=True).fill("reader.tamper_cleared")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("tr[data-type='reader.tamper_cleared']")).to_have_count(1)
        expect(page.locator("tr[data-type='member.created']")).to_have_count(0)
        _shot(page, screenshot_dir, "events")

        page.get_by_role("link", name="Settings").click()
        expect(page.locator("#eligibility + dl [data-reason=sso_not_configured]")).to_be_visible()
        _shot(page, screenshot_dir, "settings")

        # Every action above went through the services: audited with the admin as actor.
        audit = client.get("/api/v1/events?type=group.created", headers=org.headers).json()
        assert audit[0]["actor_type"] == "member" and audit[0]["data"]["session_id"]

        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in to Passgate")).to_be_visible()
        page.goto("/dashboard/people")
        expect(page.get_by_role("heading", name="Sign in to Passgate")).to_be_visible()


def test_an_admin_of_another_organization_sees_none_of_it(
    client: TestClient, container: Container, browser: Browser
) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    ids_a = a.world()
    b.world()
    token_b = _admin_cookie(container, b, "eve@example.com")
    a_names = ["m@example.com"]
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token_b)
        for path in (
            "/dashboard/doors",
            "/dashboard/readers",
            "/dashboard/people",
            "/dashboard/events",
            "/dashboard/groups",
        ):
            page.goto(path)
            html = page.content()
            assert not [i for i in ids_a.values() if i in html], path
        page.goto("/dashboard/people")
        assert "Alpha" not in page.content() and a_names[0] in page.content()  # B has its own m@
        # Forging a form post at A's reader: refused, and A's reader is untouched.
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "passgate_csrf")
        response = page.request.post(
            f"/dashboard/readers/{ids_a['reader']}/clear-tamper", form={"csrf_token": csrf}
        )
        assert response.status == 404


def test_forms_without_the_csrf_token_are_refused(
    client: TestClient, container: Container, browser: Browser
) -> None:
    org = Org(client, "acme")
    token = _admin_cookie(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/people")
        response = page.request.post(
            "/dashboard/people", form={"display_name": "Mallory", "email": "mal@example.com"}
        )
        assert response.status == 403
        assert client.get("/api/v1/members?q=Mallory", headers=org.headers).json() == []
