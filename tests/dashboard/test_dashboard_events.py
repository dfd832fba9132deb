"""The events page in Chromium: the right result and the member's name (denials too),
filters by person and result, cursor pages, a CSV export of the whole filtered range,
and server-drawn SVG charts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from tests.conftest import Org
from tests.dashboard.test_dashboard_browser import _admin_cookie, _signed_in_page
from tests.livesrv import serve

from passgate.bootstrap import Container
from passgate.proto.link import AccessEvent
from passgate.services.readers.reader_events import ingest
from passgate.web.app import create_app

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def _taps(container: Container, org: Org, reader: str, member: str | None, **kw: object) -> None:
    first = int(kw.get("first", 0))  # type: ignore[call-overload]
    n = int(kw.get("n", 1))  # type: ignore[call-overload]
    reason = str(kw.get("reason", "granted"))
    items = [
        AccessEvent(
            sequence=seq,
            occurred_at=T0 + timedelta(minutes=seq),
            granted=reason == "granted",
            reason=reason,
            member_id=member,
            method="nfc",
        )
        for seq in range(first, first + n)
    ]
    with container.uow_factory(org.id) as uow:
        ingest(uow, reader, items, container.clock.now())


def _world(client: TestClient, container: Container) -> tuple[Org, dict[str, str], str]:
    org = Org(client, "acme")
    ids = org.world()
    ann = org.post("/members", {"email": "ann@acme.test", "display_name": "Ann Example"})["id"]
    _taps(container, org, ids["reader"], ann, first=0, n=60)
    _taps(container, org, ids["reader"], ann, first=100, n=5, reason="no_access_right")
    _taps(container, org, ids["reader"], ids["member"], first=200, n=2, reason="outside_schedule")
    _taps(container, org, ids["reader"], None, first=300, n=1, reason="unknown_credential")
    return org, ids, ann


def test_events_page_names_members_pages_filters_exports_and_charts(
    client: TestClient, container: Container, browser: Browser
) -> None:
    org, _ids, ann = _world(client, container)
    token = _admin_cookie(container, org, "ada@acme.test")
    with serve(create_app(container)) as base:
        page = _signed_in_page(browser, base, token)
        page.goto("/dashboard/events")
        rows = page.locator("#event-rows tr")
        expect(rows).to_have_count(50)
        # The newest taps: an unknown credential, then a denial that names its member.
        unknown = page.locator("tr[data-reason='unknown_credential']")
        expect(unknown.locator("td[data-label='Result']")).to_contain_text("Denied")
        expect(unknown.locator("td[data-label='Who']")).to_have_text("unknown credential")
        denied = page.locator("tr[data-reason='outside_schedule']").first
        expect(denied.locator("td[data-label='Result']")).to_have_text("Denied outside schedule")
        expect(denied.locator("td[data-label='Who']")).to_have_text("M")
        expect(denied.locator("td[data-label='Door']")).to_contain_text("Front")

        # An audit record shows no result, and who did it.
        audit = page.locator("tr[data-type='member.created']").first
        expect(audit.locator("td[data-label='Result']")).to_have_text("—")
        expect(audit.locator("td[data-label='Who']")).to_contain_text("admin")
        # Older pages by cursor: no row twice, and back to the newest.
        first_ids = set(rows.evaluate_all("rs => rs.map(r => r.dataset.event)"))
        page.locator("#older").click()
        expect(page.locator("#newest")).to_be_visible()
        older_ids = set(rows.evaluate_all("rs => rs.map(r => r.dataset.event)"))
        assert older_ids and not first_ids & older_ids
        page.locator("#newest").click()
        expect(rows).to_have_count(50)

        # Ann's denials: a person typed as part of a name, and the result.
        page.get_by_label("Person").fill("ann@")
        page.get_by_label("Result").select_option(label="Denied")
        page.get_by_role("button", name="Filter").click()
        expect(page.get_by_text("Showing events of Ann Example")).to_be_visible()
        expect(rows).to_have_count(5)
        expect(page.locator("#match-count")).to_have_text("5 events match.")
        for who in rows.locator("td[data-label='Who']").all_inner_texts():
            assert who == "Ann Example"

        # The export holds the filtered range (all of it), named by member.
        with page.expect_download() as download:
            page.locator("#export-csv").click()
        path = download.value.path()
        exported = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
        assert len(exported) == 5
        assert {(x["person"], x["result"], x["reason"]) for x in exported} == {
            ("Ann Example", "denied", "no_access_right")
        }
        assert all(x["member_id"] == ann and x["door"] == "Front" for x in exported)

        # The charts are SVG images drawn by the server, loaded under the page's CSP.
        images = page.locator(".charts img")
        expect(images).to_have_count(3)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.charts img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"
        )
        reasons = page.request.get(page.locator(".charts img").nth(1).get_attribute("src") or "")
        assert reasons.headers["content-type"].startswith("image/svg+xml")
        assert "no access right: 5" in reasons.text()

        # A person nobody is: said so, and nothing listed.
        page.get_by_label("Person").fill("nobody-here")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#person-note")).to_contain_text("No person matches")
        expect(page.locator("#event-rows")).to_contain_text("No events match.")


def test_export_and_charts_refuse_bad_input_and_defuse_formulas(
    client: TestClient, container: Container
) -> None:
    org, ids, _ann = _world(client, container)
    evil = org.post("/members", {"email": "evil@acme.test", "display_name": "=HYPERLINK(1)"})
    _taps(container, org, ids["reader"], evil["id"], first=400, n=1)
    token = _admin_cookie(container, org, "ada@acme.test")
    client.cookies.set("passgate_session", token)
    r = client.get("/dashboard/events.csv?person=evil")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert row["person"] == "'=HYPERLINK(1)"  # a spreadsheet shows it, never runs it
    # The whole range, beyond one chunk of the stream and in order, newest first.
    everything = list(csv.DictReader(io.StringIO(client.get("/dashboard/events.csv").text)))
    times = [x["occurred_at"] for x in everything]
    assert len(everything) >= 69 and times == sorted(times, reverse=True)
    for bad in ("cursor=nope", "since=yesterday", "result=maybe"):
        r = client.get(f"/dashboard/events?{bad}")
        assert r.status_code == 422, (bad, r.status_code)
    assert client.get("/dashboard/events.csv?until=soon").status_code == 422
    assert client.get("/dashboard/events/chart.svg?chart=pie").status_code == 422
    svg = client.get("/dashboard/events/chart.svg?chart=time")
    assert svg.status_code == 200 and svg.text.startswith("<svg")
    assert "61 granted and 8 denied taps" in svg.text  # the last 7 days: every tap above
