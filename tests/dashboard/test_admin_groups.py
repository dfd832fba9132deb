"""Dashboard administration of groups and access rights, in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_an_admin_edits_a_group_and_its_access_rights_then_deletes_it(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    side = org.post("/doors", {"place_id": ids["place"], "name": "Side"})
    bob = org.post("/members", {"email": "bob@example.com", "display_name": "Bob"})
    token = session_token(container, org, "ada@example.com")
    h = org.headers
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        page.goto("/dashboard/groups")
        page.get_by_role("link", name="Staff").click()
        edit = page.get_by_role("form", name="Edit group")
        edit.get_by_label("Name").fill("Staff and visitors")
        edit.get_by_label("Schedule").select_option(label="Office hours")
        edit.get_by_label("Side").check()
        edit.get_by_role("button", name="Save group").click()
        expect(page.get_by_role("status")).to_contain_text("Saved group Staff and visitors")
        group = client.get(f"/api/v1/groups/{ids['group']}", headers=h).json()
        assert group["schedule_id"] == ids["schedule"]
        doors = client.get(f"/api/v1/groups/{ids['group']}/doors", headers=h).json()
        assert sorted(doors["door_ids"]) == sorted([ids["door"], side["id"]])

        # Give Bob access until a date, with a refusal first (until before from).
        give = page.get_by_role("form", name="Give access")
        give.get_by_label("Person").select_option(label="Bob (bob@example.com)")
        give.get_by_label("From (UTC, optional)").fill("2027-02-01T08:00")
        give.get_by_label("Until (UTC, optional)").fill("2027-01-01T08:00")
        give.get_by_role("button", name="Give access").click()
        expect(page.locator("[data-error-field=valid_until]")).to_be_visible()
        rights = client.get("/api/v1/access_rights", headers=h).json()
        assert [x["member_id"] for x in rights] == [ids["member"]]
        shoot(page, shots, "group-error")
        give = page.get_by_role("form", name="Give access")
        give.get_by_label("Person").select_option(label="Bob (bob@example.com)")
        give.get_by_label("Until (UTC, optional)").fill("2027-01-01T08:00")
        give.get_by_role("button", name="Give access").click()
        expect(page.get_by_role("status")).to_contain_text("Access given")
        bob_right = next(
            x
            for x in client.get("/api/v1/access_rights", headers=h).json()
            if x["member_id"] == bob["id"]
        )
        assert bob_right["valid_until"].startswith("2027-01-01T08:00")

        # Edit Bob's validity, then remove the other person's access.
        validity = page.get_by_role("form", name="Validity of Bob")
        validity.get_by_label("Until (UTC)").fill("2027-06-30T18:00")
        validity.get_by_role("button", name="Save validity").click()
        expect(page.get_by_role("status")).to_contain_text("Access validity saved")
        got = client.get(f"/api/v1/access_rights/{bob_right['id']}", headers=h).json()
        assert got["valid_until"].startswith("2027-06-30T18:00")
        assert audit(client, org, "access_right.updated")[0]["data"]["session_id"]
        shoot(page, shots, "group")
        page.get_by_role("button", name="Remove access of M").click()
        expect(page.get_by_role("status")).to_contain_text("Access removed")
        rights = client.get("/api/v1/access_rights", headers=h).json()
        assert [x["id"] for x in rights] == [bob_right["id"]]

        # Delete, confirmed: the confirmation names who loses access.
        page.get_by_role("link", name="Delete group…").click()
        expect(page.locator("[data-confirm]")).to_contain_text("Bob")
        expect(page.locator("[data-confirm]")).to_contain_text("2 door(s)")
        shoot(page, shots, "group-confirm-delete")
        page.get_by_role("button", name="Yes, delete group Staff and visitors").click()
        expect(page.get_by_role("status")).to_contain_text("Deleted group Staff and visitors")
        assert client.get("/api/v1/groups", headers=h).json() == []
        assert client.get("/api/v1/access_rights", headers=h).json() == []
        shoot(page, shots, "groups")
