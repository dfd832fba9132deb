"""The event log's query services on the fake ports (no database): each checks the
caller's role before it opens a transaction, and a member reads only their own taps.
The SQL paging itself is tested on both databases in tests/web/test_list_paging.py."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory

from passgate.domain import model as m
from passgate.domain.errors import PermissionDenied
from passgate.services.actors import Actor, ActorKind
from passgate.services.credentials.pass_list import PassList
from passgate.services.directory.event_log import EventLog
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
    taps, total = EventLog(FakeUnitOfWorkFactory(db)).own_taps(MEMBER, limit=10, offset=0)
    assert [e.id for e in taps] == ["evt_1", "evt_3"] and total == 2
    assert db.commits == 0  # a read never writes


def test_an_api_key_has_no_taps_of_its_own() -> None:
    with pytest.raises(PermissionDenied):
        EventLog(FakeUnitOfWorkFactory(FakeDatabase())).own_taps(READ_ONLY, limit=10, offset=0)


@pytest.mark.parametrize(
    "call",
    [
        lambda f: EventLog(f).page(MEMBER, EventFilter(), limit=50),
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
