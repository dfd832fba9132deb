"""Dashboard administration of schedules and their holidays, in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_an_admin_creates_edits_adds_holidays_and_deletes_a_schedule(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    token = session_token(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        page.goto("/dashboard")
        page.get_by_role("link", name="Schedules").click()
        form = page.get_by_role("form", name="New schedule")
        form.get_by_label("Name").fill("Late shift")
        form.get_by_label("Day 1", exact=True).select_option(label="Monday")
        form.get_by_label("From").first.fill("08:00")
        form.get_by_label("To").first.fill("18:00")
        form.get_by_label("Day 2", exact=True).select_option(label="Tuesday")
        form.locator("#w1-start").fill("08:00")
        form.get_by_role("button", name="Create schedule").click()
        # A row with a start and no end: refused, naming the row's field, nothing created.
        expect(page.locator("[data-error-field='windows[1].end']")).to_be_visible()
        assert len(client.get("/api/v1/schedules", headers=org.headers).json()) == 1
        shoot(page, shots, "schedules-error")
        page.locator("#w1-end").fill("12:30")
        page.get_by_role("button", name="Create schedule").click()
        expect(page.get_by_role("status")).to_contain_text("Created schedule Late shift")
        made = next(
            x
            for x in client.get("/api/v1/schedules", headers=org.headers).json()
            if x["name"] == "Late shift"
        )
        assert made["windows"] == [
            {"weekday": 0, "start": "08:00", "end": "18:00"},
            {"weekday": 1, "start": "08:00", "end": "12:30"},
        ]

        # Holidays: add two, remove one.
        for day in ("2026-12-25", "2026-12-26"):
            page.get_by_label("Holiday", exact=True).fill(day)
            page.get_by_role("button", name="Add holiday").click()
            expect(page.get_by_role("status")).to_contain_text(f"Added holiday {day}")
        page.get_by_role("button", name="Remove holiday 2026-12-26").click()
        expect(page.locator("[data-holiday]")).to_have_count(1)
        got = client.get(f"/api/v1/schedules/{made['id']}", headers=org.headers).json()
        assert got["holidays"] == ["2026-12-25"]
        assert audit(client, org, "schedule.updated")[0]["data"]["session_id"]
        shoot(page, shots, "schedule")

        # Edit: rename, drop Tuesday.
        edit = page.get_by_role("form", name="Edit schedule")
        edit.get_by_label("Name").fill("Weekday hours")
        edit.locator("#w1-start").fill("")
        edit.locator("#w1-end").fill("")
        edit.get_by_role("button", name="Save schedule").click()
        expect(page.get_by_role("status")).to_contain_text("Saved schedule Weekday hours")
        got = client.get(f"/api/v1/schedules/{made['id']}", headers=org.headers).json()
        assert got["windows"] == [{"weekday": 0, "start": "08:00", "end": "18:00"}]
        assert got["holidays"] == ["2026-12-25"]

        # A schedule in use: the confirmation names the door, the delete is refused.
        page.goto(f"/dashboard/schedules/{ids['schedule']}?confirm=delete")
        expect(page.locator("[data-confirm]")).to_contain_text("Front")
        page.get_by_role("button", name="Yes, delete schedule").click()
        expect(page.get_by_role("alert")).to_contain_text("still used by doors")

        page.goto(f"/dashboard/schedules/{made['id']}")
        page.get_by_role("link", name="Delete schedule…").click()
        shoot(page, shots, "schedule-confirm-delete")
        page.get_by_role("button", name="Yes, delete schedule Weekday hours").click()
        expect(page.get_by_role("status")).to_contain_text("Deleted schedule Weekday hours")
        assert [x["id"] for x in client.get("/api/v1/schedules", headers=org.headers).json()] == [
            ids["schedule"]
        ]
        shoot(page, shots, "schedules")
