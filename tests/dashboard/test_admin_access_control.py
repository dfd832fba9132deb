"""Who sees the administration pages: a read_only member sees every page without a
single form and is refused every change; another organization's admin sees nothing."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.admin_helpers import csrf_of, session_token, shoot, signed_in
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.web.app import create_app


def _pages(ids: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("places-readonly", "/dashboard/places"),
        ("place-readonly", f"/dashboard/places/{ids['place']}"),
        ("doors-readonly", "/dashboard/doors"),
        ("door-new-readonly", "/dashboard/doors/new"),
        ("door-readonly", f"/dashboard/doors/{ids['door']}"),
        ("readers-readonly", "/dashboard/readers"),
        ("reader-new-readonly", "/dashboard/readers/new"),
        ("reader-readonly", f"/dashboard/readers/{ids['reader']}"),
        ("schedules-readonly", "/dashboard/schedules"),
        ("schedule-readonly", f"/dashboard/schedules/{ids['schedule']}"),
        ("groups-readonly", "/dashboard/groups"),
        ("group-readonly", f"/dashboard/groups/{ids['group']}"),
        ("people-readonly", "/dashboard/people"),
        ("person-readonly", f"/dashboard/people/{ids['member']}"),
    ]


# Every change the administration pages offer, as (path, form) with the ids filled in.
def _writes(ids: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/dashboard/places", {"name": "X"}),
        (f"/dashboard/places/{ids['place']}", {"name": "X", "timezone": "UTC"}),
        (f"/dashboard/places/{ids['place']}/lockdown", {"lockdown": "on"}),
        (f"/dashboard/places/{ids['place']}/delete", {}),
        ("/dashboard/doors", {"name": "X", "place_id": ids["place"]}),
        (f"/dashboard/doors/{ids['door']}", {"name": "X", "staleness_h": "1"}),
        (f"/dashboard/doors/{ids['door']}/lockdown", {"lockdown": "on"}),
        (f"/dashboard/doors/{ids['door']}/delete", {}),
        ("/dashboard/readers", {"name": "X", "door_id": ids["door"], "firmware": "1"}),
        (f"/dashboard/readers/{ids['reader']}", {"name": "X"}),
        (f"/dashboard/readers/{ids['reader']}/tamper-protection", {"tamper_protection": "off"}),
        (f"/dashboard/readers/{ids['reader']}/pairing-code", {}),
        (f"/dashboard/readers/{ids['reader']}/delete", {}),
        ("/dashboard/schedules", {"name": "X"}),
        (f"/dashboard/schedules/{ids['schedule']}", {"name": "X"}),
        (f"/dashboard/schedules/{ids['schedule']}/holidays", {"day": "2026-12-25"}),
        (f"/dashboard/schedules/{ids['schedule']}/holidays/remove", {"day": "2026-12-25"}),
        (f"/dashboard/schedules/{ids['schedule']}/delete", {}),
        (f"/dashboard/groups/{ids['group']}", {"name": "X"}),
        (f"/dashboard/groups/{ids['group']}/access", {"member_id": ids["member"]}),
        (f"/dashboard/groups/{ids['group']}/delete", {}),
        (f"/dashboard/access/{ids['access_right']}", {"valid_until": "2030-01-01T00:00"}),
        (f"/dashboard/access/{ids['access_right']}/delete", {}),
        (f"/dashboard/people/{ids['member']}", {"display_name": "X"}),
        (f"/dashboard/people/{ids['member']}/status", {"status": "deactivated"}),
        (f"/dashboard/people/{ids['member']}/access", {"group_id": ids["group"]}),
    ]


def _world_state(client: TestClient, org: Org) -> list[str]:
    kinds = ("places", "doors", "readers", "schedules", "groups", "members", "access_rights")
    state = [client.get(f"/api/v1/{k}", headers=org.headers).text for k in kinds]
    state.append(client.get("/api/v1/events", headers=org.headers).headers["X-Total-Count"])
    return state


def test_a_read_only_member_sees_every_page_and_no_write_control(
    client: TestClient, container: Container, browser: Browser, shots: Path
) -> None:
    org = Org(client, "acme")
    ids = org.world()
    token = session_token(container, org, "audit@example.com", role="read_only")
    before = _world_state(client, org)
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token)
        for name, path in _pages(ids):
            response = page.goto(path)
            assert response is not None and response.status == 200, path
            # The only form on the page is "Sign out"; no button but that one.
            assert page.locator("main form").count() == 0, path
            expect(page.locator("main button")).to_have_count(0)
            expect(page.locator("main a.button-link")).to_have_count(0)
            shoot(page, shots, name)
        csrf = csrf_of(page)
        for path, form in _writes(ids):
            r = page.request.post(path, form={**form, "csrf_token": csrf}, max_redirects=0)
            assert r.status == 403, (path, r.status)
    assert _world_state(client, org) == before


def test_an_admin_of_another_organization_sees_and_changes_nothing(
    client: TestClient, container: Container, browser: Browser
) -> None:
    a, b = Org(client, "alpha"), Org(client, "beta")
    ids_a = a.world()
    b.world()
    token_b = session_token(container, b, "eve@example.com")
    before = _world_state(client, a)
    with serve(create_app(container)) as base:
        page = signed_in(browser, base, token_b)
        for _name, path in _pages(ids_a):
            response = page.goto(path)
            assert response is not None
            html = page.content()
            leaked = [i for i in ids_a.values() if re.search(re.escape(i), html)]
            assert not leaked, (path, leaked)
            if ids_a["place"] in path or any(v in path for v in ids_a.values()):
                assert response.status == 404, path
        csrf = csrf_of(page)
        for path, form in _writes(ids_a):
            if not any(v in path for v in ids_a.values()):
                continue  # a create in B's own organization, not A's
            r = page.request.post(path, form={**form, "csrf_token": csrf}, max_redirects=0)
            assert r.status == 404, (path, r.status)
    assert _world_state(client, a) == before
