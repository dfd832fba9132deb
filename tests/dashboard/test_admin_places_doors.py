"""Dashboard administration of places and doors, in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import audit, session_token, shoot, signed_in
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.web.app import create_app


def test_an_admin_creates_edits_locks_down_and_deletes_places_and_doors(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    token = session_token(container, org, "ada@example.com")
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        page.goto("/dashboard/places")
        form = page.get_by_role("form", name="New place")
        form.get_by_label("Name").fill("Harbour office")
        form.get_by_label("Time zone").fill("Mars/Olympus")
        form.get_by_role("button", name="Create place").click()
        # Refused with the field and the rule; nothing created.
        expect(page.locator("[data-error-field=timezone]")).to_contain_text("timezone")
        expect(page.get_by_label("Name")).to_have_value("Harbour office")
        assert client.get("/api/v1/places", headers=org.headers).json() == []
        shoot(page, shots, "places-error")

        page.get_by_label("Time zone").fill("Europe/Paris")
        page.get_by_role("button", name="Create place").click()
        expect(page.get_by_role("status")).to_contain_text("Created place Harbour office")
        (place,) = client.get("/api/v1/places", headers=org.headers).json()
        assert place["timezone"] == "Europe/Paris"
        shoot(page, shots, "place")

        edit = page.get_by_role("form", name="Edit place")
        edit.get_by_label("Address (optional)").fill("1 Quai du Port")
        edit.get_by_role("button", name="Save place").click()
        expect(page.get_by_role("status")).to_contain_text("Saved place")
        assert (
            client.get(f"/api/v1/places/{place['id']}", headers=org.headers).json()["address"]
            == "1 Quai du Port"
        )

        # Two doors in it, through the new-door form.
        for name in ("Main entrance", "Loading bay"):
            page.get_by_role("link", name="Add a door here").click()
            door_form = page.get_by_role("form", name="New door")
            door_form.get_by_label("Name").fill(name)
            door_form.get_by_role("button", name="Create door").click()
            expect(page.get_by_role("status")).to_contain_text(f"Created door {name}")
            page.get_by_role("link", name="Harbour office").click()
        doors = {d["name"]: d for d in client.get("/api/v1/doors", headers=org.headers).json()}
        assert doors["Main entrance"]["timezone"] == "Europe/Paris"  # the place's
        assert doors["Main entrance"]["staleness_limit_s"] == 36 * 3600

        # A door's offline limit, with a refusal first.
        page.goto(f"/dashboard/doors/{doors['Main entrance']['id']}")
        edit = page.get_by_role("form", name="Edit door")
        edit.get_by_label("Offline limit (hours)").fill("9000")
        edit.get_by_role("button", name="Save door").click()
        expect(page.locator("[data-error-field=staleness_limit_s]")).to_contain_text(
            "between 1 minute and 720 hours"
        )
        page.get_by_label("Offline limit (hours)").fill("12")
        page.get_by_role("button", name="Save door").click()
        expect(page.get_by_role("status")).to_contain_text("Saved door Main entrance")
        main = client.get(f"/api/v1/doors/{doors['Main entrance']['id']}", headers=org.headers)
        assert main.json()["staleness_limit_s"] == 12 * 3600
        shoot(page, shots, "door")

        # Lockdown of one door, then of the whole place, then released.
        page.get_by_role("button", name="Lock down Main entrance").click()
        expect(page.locator("[data-lockdown=on]")).to_be_visible()
        page.get_by_role("button", name="Release lockdown").click()
        expect(page.locator("[data-lockdown=off]")).to_be_visible()
        page.goto(f"/dashboard/places/{place['id']}")
        page.get_by_role("button", name="Lock down every door of Harbour office").click()
        expect(page.get_by_role("status")).to_contain_text("Locked down 2 door(s)")
        states = client.get("/api/v1/doors", headers=org.headers).json()
        assert all(d["lockdown"] for d in states)
        page.goto("/dashboard/doors")
        expect(page.get_by_text("Locked down")).to_have_count(2)
        shoot(page, shots, "doors")
        page.goto(f"/dashboard/places/{place['id']}")
        page.get_by_role("button", name="Release every door").click()
        expect(page.get_by_role("status")).to_contain_text("Released 2 door(s)")
        assert not any(
            d["lockdown"] for d in client.get("/api/v1/doors", headers=org.headers).json()
        )
        changes = audit(client, org, "door.updated")
        lockdowns = [e for e in changes if "lockdown" in e["data"]["after"]]
        assert len(lockdowns) == 6 and all(e["data"]["session_id"] for e in lockdowns)

        # Deleting the place: the confirmation names what blocks it, the delete is refused.
        page.get_by_role("link", name="Delete place…").click()
        expect(page.locator("[data-confirm]")).to_contain_text("Main entrance")
        shoot(page, shots, "place-confirm-delete")
        page.get_by_role("button", name="Yes, delete place Harbour office").click()
        expect(page.get_by_role("alert")).to_contain_text("still used by doors")
        assert len(client.get("/api/v1/places", headers=org.headers).json()) == 1

        # Delete both doors (confirmed), then the place.
        for door in doors.values():
            page.goto(f"/dashboard/doors/{door['id']}")
            page.get_by_role("link", name="Delete door…").click()
            expect(page.locator("[data-confirm]")).to_contain_text("Nobody can open this door")
            page.get_by_role("button", name=f"Yes, delete door {door['name']}").click()
            expect(page.get_by_role("status")).to_contain_text(f"Deleted door {door['name']}")
        page.goto(f"/dashboard/places/{place['id']}")
        page.get_by_role("link", name="Delete place…").click()
        page.get_by_role("button", name="Yes, delete place Harbour office").click()
        expect(page.get_by_role("status")).to_contain_text("Deleted place Harbour office")
        assert client.get("/api/v1/places", headers=org.headers).json() == []
        assert audit(client, org, "place.deleted")[0]["actor_type"] == "member"
        shoot(page, shots, "places")


def test_place_lockdown_through_the_api_audits_each_door(client: TestClient) -> None:
    org = Org(client, "acme")
    ids = org.world()
    other = org.post("/doors", {"place_id": ids["place"], "name": "Side"})
    r = client.post(
        f"/api/v1/places/{ids['place']}/lockdown", json={"lockdown": True}, headers=org.headers
    )
    assert r.status_code == 200, r.text
    assert sorted(r.json()["changed_door_ids"]) == sorted([ids["door"], other["id"]])
    again = client.post(
        f"/api/v1/places/{ids['place']}/lockdown", json={"lockdown": True}, headers=org.headers
    )
    assert again.json()["changed_door_ids"] == []
    assert len(audit(client, org, "door.updated")) == 2
    foreign = Org(client, "other")
    r = client.post(
        f"/api/v1/places/{ids['place']}/lockdown", json={"lockdown": False}, headers=foreign.headers
    )
    assert r.status_code == 404
    assert all(d["lockdown"] for d in client.get("/api/v1/doors", headers=org.headers).json())
