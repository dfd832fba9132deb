"""Deleting a person from their page, in headless Chromium: a confirmation naming what
goes, then their record and past taps still read with their name."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.dashboard.test_admin_people import _tap
from tests.livesrv import serve
from tests.passes.helpers import add_app_credential, app_headers

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_an_admin_deletes_a_person_after_confirming_and_their_taps_keep_the_name(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    ids = org.world()  # member "M" with an access right to the Front door
    h = org.headers
    credential = add_app_credential(client, org, ids["member"])
    app = app_headers(client, org.id, ids["member"])
    tap = _tap(container, org.id, ids["member"], ids["door"])
    token = session_token(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        page.goto(f"/dashboard/people/{ids['member']}")
        page.get_by_role("link", name="Delete…").click()
        confirm = page.locator("[data-confirm]")
        expect(confirm.get_by_role("heading")).to_have_text("Delete M?")
        expect(confirm).to_contain_text("removed from 1 group")
        expect(confirm).to_contain_text("app credential")
        shoot(page, shots, "person-delete-confirm")
        confirm.get_by_role("button", name="Yes, delete M").click()
        expect(page.get_by_role("status")).to_contain_text("Deleted M.")
        expect(page.locator("[data-status=deleted]")).to_contain_text("Deleted")
        expect(page.get_by_role("form", name="Edit person")).to_have_count(0)
        expect(page.get_by_role("link", name="Delete…")).to_have_count(0)
        shoot(page, shots, "person-deleted")

        person = client.get(f"/api/v1/members/{ids['member']}", headers=h).json()
        assert person["status"] == "deleted"
        cred = client.get(f"/api/v1/app_credentials/{credential}", headers=h).json()
        assert cred["status"] == "deleted"
        assert client.get("/api/v1/me", headers=app).status_code == 401
        rights = client.get("/api/v1/access_rights", headers=h).json()
        assert ids["member"] not in [r["member_id"] for r in rights]
        (event,) = audit(client, org, "member.deleted")
        assert event["actor_name"] == "admin ada@example.com" and event["data"]["session_id"]

        # The past tap still names them in the event log.
        page.goto("/dashboard/events")
        expect(page.locator(f"[data-event={tap}]")).to_contain_text("M")
        expect(page.locator(f"[data-event={tap}] a")).to_have_text("M")

        # Nobody deletes themselves.
        me = next(
            x
            for x in client.get("/api/v1/members", headers=h).json()
            if x["email"] == "ada@example.com"
        )
        page.goto(f"/dashboard/people/{me['id']}?confirm=delete")
        page.get_by_role("button", name="Yes, delete").click()
        expect(page.locator("[data-error-field=member_id]")).to_contain_text(
            "cannot delete yourself"
        )
        assert client.get(f"/api/v1/members/{me['id']}", headers=h).json()["status"] == "active"
