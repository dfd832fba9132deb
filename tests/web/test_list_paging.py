"""Keyset paging of the long lists (GET /events, GET /apple_passes), on both databases.

A client follows the next cursor (X-Next-Cursor, or the Link header) page by page; rows
inserted meanwhile never repeat or hide a row of the pages still to come; filters hold
across pages; a cursor that is not one the list handed out is a clear 422.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Org

from passgate.adapters.db import lists
from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services import paging

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def _events(container: Container, org: Org, n: int, *, start: int = 0, **over: Any) -> None:
    """n access events, one per minute from T0 + start minutes; every third at the same
    instant as the one before (ties are ordered by id)."""
    rows = []
    for i in range(start, start + n):
        minute = i - (i % 3 == 2)
        rows.append(
            m.Event(
                id=m.new_id("evt"),
                org_id=org.id,
                category="access",
                type="access.granted",
                idempotency_key=f"test:{org.id}:{i}",
                occurred_at=T0 + timedelta(minutes=minute),
                recorded_at=T0,
                granted=True,
                reason="granted",
                member_id=over.get("member_id"),
                data={"i": i},
            )
        )
    with container.uow_factory(org.id) as uow:
        assert len(uow.events.add_many(rows)) == n


def _follow(client: TestClient, org: Org, url: str, *, via_link: bool = False) -> list[Any]:
    pages, base = [], url
    while url:
        r = client.get(url, headers=org.headers)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if via_link:
            link = r.headers.get("Link")
            url = link.split(">")[0].lstrip("<") if link else ""
        else:
            cursor = r.headers.get("X-Next-Cursor")
            sep = "&" if "?" in base else "?"
            url = f"{base}{sep}cursor={cursor}" if cursor else ""
    return pages


def _audit_count(client: TestClient, org: Org) -> int:
    return int(
        client.get("/api/v1/events?category=audit", headers=org.headers).headers["X-Total-Count"]
    )


def test_events_page_by_cursor_newest_first_with_ties(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    _events(container, org, 23)
    everything = client.get("/api/v1/events?category=access&limit=500", headers=org.headers)
    assert everything.headers["X-Total-Count"] == "23"
    assert "X-Next-Cursor" not in everything.headers and "Link" not in everything.headers
    order = [e["id"] for e in everything.json()]
    keys = [(e["occurred_at"], e["id"]) for e in everything.json()]
    assert keys == sorted(keys, reverse=True)
    pages = _follow(client, org, "/api/v1/events?category=access&limit=5", via_link=True)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [e["id"] for p in pages for e in p] == order
    # The same through X-Next-Cursor; a limit that divides the total ends without a cursor.
    pages = _follow(client, org, "/api/v1/events?category=access&limit=23")
    assert len(pages) == 1 and [e["id"] for e in pages[0]] == order


def test_paging_is_stable_while_events_arrive(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    _events(container, org, 12)
    first = client.get("/api/v1/events?category=access&limit=4", headers=org.headers)
    before = [
        e["id"]
        for e in client.get("/api/v1/events?category=access&limit=500", headers=org.headers).json()
    ]
    # New taps arrive meanwhile, newer than everything listed so far.
    _events(container, org, 5, start=100)
    cursor = first.headers["X-Next-Cursor"]
    rest = _follow(client, org, f"/api/v1/events?category=access&limit=4&cursor={cursor}")
    seen = [e["id"] for e in first.json()] + [e["id"] for p in rest for e in p]
    assert seen == before  # nothing repeated, nothing skipped, no newcomer mid-list
    # An offset page would have shifted by the five newcomers.
    shifted = client.get("/api/v1/events?category=access&limit=4&offset=4", headers=org.headers)
    assert [e["id"] for e in shifted.json()] != seen[4:8]


def test_filters_hold_across_pages(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "ann@example.com", "display_name": "Ann"})["id"]
    _events(container, org, 7, member_id=member)
    _events(container, org, 9, start=50)
    until = (T0 + timedelta(minutes=5)).isoformat()
    url = f"/api/v1/events?member_id={member}&until={until.replace('+', '%2B')}&limit=2"
    pages = _follow(client, org, url, via_link=True)
    got = [e for p in pages for e in p]
    assert len(got) == 6 and {e["member_id"] for e in got} == {member}
    assert all(e["occurred_at"] < until for e in got)
    first = client.get(url, headers=org.headers)
    assert first.headers["X-Total-Count"] == "6"
    assert f"member_id={member}" in first.headers["Link"] and "limit=2" in first.headers["Link"]


def test_count_is_capped_and_says_so(
    client: TestClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = Org(client, "acme")
    _events(container, org, 6)
    monkeypatch.setattr(lists, "COUNT_CAP", 5)
    monkeypatch.setattr(paging, "COUNT_CAP", 5)
    r = client.get("/api/v1/events?category=access&limit=2", headers=org.headers)
    assert "X-Total-Count" not in r.headers and r.headers["X-Total-Count-Exceeds"] == "5"
    r = client.get("/api/v1/events?category=access&limit=2&reason=nope", headers=org.headers)
    assert r.headers["X-Total-Count"] == "0" and r.json() == []


def _forge(body: Any) -> str:
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        _forge(b"\xff\xfe"),
        _forge([1, 2]),
        _forge({"k": "events", "t": "yesterday", "i": "evt_1"}),
        _forge({"k": "events", "t": "2026-11-01T08:00:00", "i": "evt_1"}),  # no zone
        _forge({"k": "events", "t": "2026-11-01T08:00:00+00:00", "i": 7}),
        _forge({"k": "events", "t": "2026-11-01T08:00:00+00:00", "i": "a\x00b"}),
        _forge({"k": "events", "t": "2026-11-01T08:00:00+00:00", "i": "x", "extra": 1}),
        _forge({"k": "apple_passes", "t": "2026-11-01T08:00:00+00:00", "i": "x"}),
        "A" * 201,
    ],
)
def test_a_cursor_not_handed_out_is_a_clear_422(client: TestClient, cursor: str) -> None:
    org = Org(client, "acme")
    audits = _audit_count(client, org)
    r = client.get(f"/api/v1/events?cursor={cursor}", headers=org.headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "cursor"
    assert _audit_count(client, org) == audits


def test_cursor_and_offset_cannot_be_combined(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    _events(container, org, 3)
    cursor = client.get("/api/v1/events?limit=1", headers=org.headers).headers["X-Next-Cursor"]
    r = client.get(f"/api/v1/events?cursor={cursor}&offset=1", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "offset"
    # An events cursor means nothing to the pass list.
    r = client.get(f"/api/v1/apple_passes?cursor={cursor}", headers=org.headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "cursor"


def _passes(container: Container, org: Org, member_ids: list[str]) -> list[str]:
    """One pass per member, created a minute apart; the first two get devices."""
    ids = []
    with container.uow_factory(org.id) as uow:
        for i, member_id in enumerate(member_ids):
            at = T0 + timedelta(minutes=i // 2)  # pairs share an instant
            p = m.ApplePass(
                id=m.new_id("pass"),
                org_id=org.id,
                member_id=member_id,
                serial_number=f"serial-{org.id}-{i}",
                status="suspended" if i % 4 == 3 else "active",
                created_at=at,
                updated_at=at,
            )
            uow.repo(m.ApplePass).add(p)
            kinds = {0: ["iphone", "watch"], 1: ["watch"]}.get(i, [])
            for kind in kinds:
                uow.repo(m.PassDevice).add(
                    m.PassDevice(
                        id=m.new_id("dev"),
                        org_id=org.id,
                        pass_id=p.id,
                        kind=kind,
                        device_id=f"{kind}-{i}",
                        model="m",
                        os_version="1",
                        app_version=None,
                        public_key="04" + "00" * 64,
                        key_id=f"{org.id}-{i}-{kind}",
                        status="active",
                        added_at=at,
                    )
                )
            ids.append(p.id)
    return ids


def test_apple_passes_page_by_cursor_with_filters(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    members = [
        org.post("/members", {"email": f"p{i}@example.com", "display_name": f"Person {i}"})["id"]
        for i in range(11)
    ]
    ids = _passes(container, org, members)
    pages = _follow(client, org, "/api/v1/apple_passes?limit=3", via_link=True)
    assert [len(p) for p in pages] == [3, 3, 3, 2]
    got = [x for p in pages for x in p]
    assert sorted(x["id"] for x in got) == sorted(ids)
    keys = [(x["added_at"], x["id"]) for x in got]
    assert keys == sorted(keys, reverse=True)
    by_id = {x["id"]: x for x in got}
    assert by_id[ids[0]]["devices"] == "both" and by_id[ids[1]]["devices"] == "watch"
    assert by_id[ids[2]]["devices"] == "none" and by_id[ids[0]]["member_name"] == "Person 0"
    suspended = _follow(client, org, "/api/v1/apple_passes?status=suspended&limit=1")
    assert sorted(x[0]["id"] for x in suspended) == sorted([ids[3], ids[7]])
    r = client.get("/api/v1/apple_passes?device=none&limit=2", headers=org.headers)
    assert r.headers["X-Total-Count"] == "9" and len(r.json()) == 2
    # A search needle is matched literally: % and _ are not wildcards.
    r = client.get("/api/v1/apple_passes?q=person%201", headers=org.headers)
    assert sorted(x["member_name"] for x in r.json()) == ["Person 1", "Person 10"]
    r = client.get("/api/v1/apple_passes?q=%25", headers=org.headers)
    assert r.json() == [] and r.headers["X-Total-Count"] == "0"
    r = client.get("/api/v1/apple_passes?q=p_@", headers=org.headers)
    assert r.json() == []


def test_every_page_counts_the_whole_list_even_past_its_last_row(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    _events(container, org, 7)
    first = client.get("/api/v1/events?category=access&limit=5", headers=org.headers)
    second = client.get(
        f"/api/v1/events?category=access&limit=5&cursor={first.headers['X-Next-Cursor']}",
        headers=org.headers,
    )
    assert len(second.json()) == 2
    assert first.headers["X-Total-Count"] == second.headers["X-Total-Count"] == "7"
    # A cursor at the last row: the page is empty and still says how many match.
    last = second.json()[-1]
    at = datetime.fromisoformat(last["occurred_at"].replace("Z", "+00:00"))
    past = paging.encode_cursor("events", paging.Position(at, last["id"]))
    r = client.get(f"/api/v1/events?category=access&cursor={past}", headers=org.headers)
    assert r.json() == [] and r.headers["X-Total-Count"] == "7"
    assert "X-Next-Cursor" not in r.headers
