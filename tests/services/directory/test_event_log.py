"""The event log's query services on the fake ports (no database): each checks the
caller's role before it opens a transaction, and a member reads only their own taps.
The SQL paging itself is tested on both databases in tests/web/test_list_paging.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import PermissionDenied
from passgate.services.actors import Actor, ActorKind
from passgate.services.credentials.pass_list import PassList
from passgate.services.directory.event_log import EventLog, Search, resolve
from passgate.services.events import EventFilter
from passgate.services.ports import UnitOfWork, UnitOfWorkFactory

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
MEMBER = Actor(
    kind=ActorKind.MEMBER,
    id="mbr_1",
    name="Mia",
    org_id="org_a",
    role="member",
    session_id="ses_1",
    session_kind="app",
)
READ_ONLY = Actor(
    kind=ActorKind.API_KEY, id="key_ro", name="audit", org_id="org_a", role="read_only"
)


def _tap(n: int, member: str, *, org: str = "org_a", category: str = "access") -> m.Event:
    return m.Event(
        id=f"evt_{n}", org_id=org, category=category, type="access.granted",
        idempotency_key=f"rdr_1:{n}", occurred_at=NOW - timedelta(minutes=n),
        recorded_at=NOW, reader_id="rdr_1", door_id="door_1", member_id=member,
        granted=True, reason="granted",
    )  # fmt: skip


def test_a_member_reads_only_their_own_taps_newest_first() -> None:
    db = FakeDatabase()
    db.events += [
        _tap(3, "mbr_1"),
        _tap(1, "mbr_1"),
        _tap(2, "mbr_2"),
        _tap(4, "mbr_1", org="org_b"),
        _tap(5, "mbr_1", category="audit"),
    ]
    taps, total = EventLog(FakeUnitOfWorkFactory(db), FixedClock(NOW)).own_taps(
        MEMBER, limit=10, offset=0
    )
    assert [e.id for e in taps] == ["evt_1", "evt_3"] and total == 2
    assert db.commits == 0  # a read never writes


def test_an_api_key_has_no_taps_of_its_own() -> None:
    with pytest.raises(PermissionDenied):
        EventLog(FakeUnitOfWorkFactory(FakeDatabase()), FixedClock(NOW)).own_taps(
            READ_ONLY, limit=10, offset=0
        )


@pytest.mark.parametrize(
    "call",
    [
        lambda f: EventLog(f, FixedClock(NOW)).page(MEMBER, EventFilter(), limit=50),
        lambda f: PassList(f).page(MEMBER, limit=50),
    ],
    ids=["events", "apple_passes"],
)
def test_a_member_may_not_list_the_organizations_events_or_passes(
    call: Callable[[UnitOfWorkFactory], object],
) -> None:
    opened: list[str | None] = []
    base = FakeUnitOfWorkFactory(FakeDatabase())

    def factory(org_id: str | None, *, write: bool = True) -> UnitOfWork:
        opened.append(org_id)
        return base(org_id, write=write)

    with pytest.raises(PermissionDenied):
        call(factory)
    assert opened == []  # refused before any transaction


@pytest.mark.parametrize(
    "call",
    [
        lambda log: log.investigate(MEMBER, Search(EventFilter()), limit=50),
        lambda log: log.export(MEMBER, Search(EventFilter()), chunk=100),
        lambda log: log.chart(MEMBER, Search(EventFilter()), "time"),
    ],
    ids=["investigate", "export", "chart"],
)
def test_a_member_may_not_investigate_export_or_chart_the_log(
    call: Callable[[EventLog], object],
) -> None:
    db = FakeDatabase()
    with pytest.raises(PermissionDenied):
        call(EventLog(FakeUnitOfWorkFactory(db), FixedClock(NOW)))
    assert db.commits == 0


def _member(n: int, name: str, email: str) -> m.Member:
    return m.Member(
        id=f"mbr_{n}", org_id="org_a", email=email, display_name=name, role="member",
        status=m.MemberStatus.ACTIVE, external_id=None, created_at=NOW,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("person", "member_id", "note"),
    [
        ("ada", "mbr_1", None),  # one match: the list is theirs
        ("ADA@ex", "mbr_1", None),  # by email, any case
        ("zed", "-", "No person matches “zed”."),
        ("example", "-", "2 people match “example”: type more of the name or the email."),
    ],
)
def test_a_person_filter_must_name_exactly_one_member(
    person: str, member_id: str, note: str | None
) -> None:
    db = FakeDatabase()
    db.put(
        _member(1, "Ada Lovelace", "ada@example.org"),
        _member(2, "Grace Hopper", "grace@example.org"),
        dataclasses.replace(_member(3, "Ada Other", "x@y.z"), org_id="org_b"),
    )
    with FakeUnitOfWorkFactory(db)("org_a", write=False) as uow:
        found = resolve(uow, Search(EventFilter(door_id="door_1"), person=person))
    assert found.query.member_id == member_id
    assert found.query.door_id == "door_1"  # the rest of the filter stays
    assert found.note == note
    assert (found.person.id if found.person else None) == (None if note else member_id)
