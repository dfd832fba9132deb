"""Dashboard administration of people: edit, deactivate, a page per person."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.events import record_event
from passgate.web.app import create_app


def _tap(container: Container, org_id: str, member_id: str, door_id: str) -> str:
    now = container.clock.now()
    event_id = m.new_id("evt")
    with container.uow_factory(org_id) as uow:
        record_event(
            uow,
            m.Event(
                id=event_id,
                org_id=org_id,
                category=m.EventCategory.ACCESS,
                type="access.denied",
                idempotency_key=event_id,
                occurred_at=now,
                recorded_at=now,
                door_id=door_id,
                member_id=member_id,
                granted=False,
                reason="outside_schedule",
            ),
        )
    return event_id


def test_an_admin_edits_deactivates_and_reads_a_person(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    org.post("/members", {"email": "taken@example.com", "display_name": "Taken"})
    tap = _tap(container, org.id, ids["member"], ids["door"])
    token = session_token(container, org, "ada@example.com")
    h = org.headers
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        page.goto("/dashboard/people")
        page.get_by_role("link", name="M", exact=True).click()
        # Their access (group, doors, schedule) and their taps.
        row = page.locator(f"[data-access={ids['access_right']}]")
        expect(row).to_contain_text("Staff")
        expect(row).to_contain_text("Front")
        expect(row).to_contain_text("Front (Office hours)")
        expect(page.locator(f"[data-tap={tap}]")).to_contain_text("outside_schedule")
        shoot(page, shots, "person")

        edit = page.get_by_role("form", name="Edit person")
        edit.get_by_label("E-mail").fill("taken@example.com")
        edit.get_by_role("button", name="Save person").click()
        expect(page.locator("[data-error-field=email]")).to_contain_text("already used")
        assert client.get(f"/api/v1/members/{ids['member']}", headers=h).json()["email"] == (
            "m@example.com"
        )
        shoot(page, shots, "person-error")
        edit = page.get_by_role("form", name="Edit person")
        edit.get_by_label("Name").fill("Mia Meyer")
        edit.get_by_label("E-mail").fill("mia@example.com")
        edit.get_by_label("Role").select_option(label="Read only (auditor)")
        edit.get_by_role("button", name="Save person").click()
        expect(page.get_by_role("status")).to_contain_text("Saved Mia Meyer")
        got = client.get(f"/api/v1/members/{ids['member']}", headers=h).json()
        assert (got["display_name"], got["email"], got["role"]) == (
            "Mia Meyer",
            "mia@example.com",
            "read_only",
        )

        # Validity from the person's page returns to it.
        validity = page.get_by_role("form", name="Validity of Staff")
        validity.get_by_label("Until (UTC)").fill("2027-03-01T00:00")
        validity.get_by_role("button", name="Save validity").click()
        expect(page.get_by_role("heading", name="Mia Meyer")).to_be_visible()
        right = client.get(f"/api/v1/access_rights/{ids['access_right']}", headers=h).json()
        assert right["valid_until"].startswith("2027-03-01T00:00")

        # Deactivate, confirmed, naming what stops working; then reactivate.
        page.get_by_role("link", name="Deactivate…").click()
        expect(page.locator("[data-confirm]")).to_contain_text("Every tap of theirs is denied")
        shoot(page, shots, "person-confirm-deactivate")
        page.get_by_role("button", name="Yes, deactivate Mia Meyer").click()
        expect(page.locator("[data-status=deactivated]")).to_be_visible()
        assert client.get(f"/api/v1/members/{ids['member']}", headers=h).json()["status"] == (
            "deactivated"
        )
        page.get_by_role("button", name="Reactivate").click()
        expect(page.locator("[data-status=active]")).to_be_visible()
        statuses = [e["data"]["after"] for e in audit(client, org, "member.updated")]
        assert {"status": "deactivated"} in statuses and {"status": "active"} in statuses

        # Remove their access from their page.
        page.get_by_role("button", name="Remove access of Staff").click()
        expect(page.get_by_text("No access yet.")).to_be_visible()
        page.get_by_role("form", name="Give access").get_by_role(
            "button", name="Give access"
        ).click()
        expect(page.get_by_role("status")).to_contain_text("Access given")
        expect(page.locator("[data-access]")).to_have_count(1)
        page.goto("/dashboard/people")
        shoot(page, shots, "people")
