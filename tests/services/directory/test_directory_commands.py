"""The directory's whole commands and page queries on the fake ports: each checks the
caller's role itself, owns its transaction, reads the clock, and answers with data that
outlives the transaction (the rows, with each door's readiness read in the same one)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import Conflict, PermissionDenied
from passgate.services.actors import Actor, ActorKind
from passgate.services.directory import catalog
from passgate.services.directory.commands import DirectoryCommands

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
ADMIN = Actor(kind=ActorKind.API_KEY, id="key_admin", name="ci", org_id="org_a", role="admin")
AUDITOR = Actor(kind=ActorKind.API_KEY, id="key_ro", name="ro", org_id="org_a", role="read_only")
MEMBER = Actor(
    kind=ActorKind.MEMBER,
    id="mem_1",
    name="Ann",
    org_id="org_a",
    role="member",
    session_id="ses_1",
    session_kind="browser",
)
PLACE = m.Place(id="plc_1", org_id="org_a", name="HQ", timezone="UTC", address=None, created_at=NOW)
OTHER_PLACE = m.Place(
    id="plc_b", org_id="org_b", name="Theirs", timezone="UTC", address=None, created_at=NOW
)


def _door(door_id: str, *, schedule_id: str | None = None) -> m.Door:
    return m.Door(
        id=door_id,
        org_id="org_a",
        place_id="plc_1",
        name=door_id.title(),
        timezone="UTC",
        lockdown=False,
        staleness_limit_s=3600,
        schedule_id=schedule_id,
        created_at=NOW,
    )


def _commands(db: FakeDatabase) -> DirectoryCommands:
    return DirectoryCommands(FakeUnitOfWorkFactory(db), FixedClock(NOW), topic=None)


def test_a_read_only_key_reads_but_every_change_is_refused_before_anything_is_written() -> None:
    db = FakeDatabase()
    db.put(PLACE, OTHER_PLACE)
    commands = _commands(db)
    rows = commands.page(AUDITOR, catalog.PLACE, limit=10)
    assert [p.id for p in rows.items] == ["plc_1"] and rows.total == 1  # own tenant only
    with pytest.raises(PermissionDenied):
        commands.create(AUDITOR, catalog.PLACE, {"name": "x", "timezone": "UTC", "address": None})
    with pytest.raises(PermissionDenied):
        commands.delete(AUDITOR, catalog.PLACE, "plc_1")
    assert db.commits == 0 and db.events == []


def test_a_member_session_reaches_no_configuration_object() -> None:
    db = FakeDatabase()
    db.put(PLACE)
    with pytest.raises(PermissionDenied, match="/me"):
        _commands(db).rows(MEMBER, catalog.PLACE)


def test_doors_come_with_their_readiness_read_in_the_same_transaction() -> None:
    db = FakeDatabase()
    db.put(PLACE, _door("dor_front"), _door("dor_back"))
    rows = _commands(db).page(ADMIN, catalog.DOOR, limit=10)
    assert sorted(rows.readiness) == ["dor_back", "dor_front"]
    # No reader mounted: an Apple Pass cannot work at either door, and the verdict says why.
    assert all(not v.ready and v.reasons for v in rows.readiness.values())
    assert _commands(db).get(ADMIN, catalog.PLACE, "plc_1").readiness == {}


def test_a_change_owns_its_transaction_reads_the_clock_and_audits_once() -> None:
    db = FakeDatabase()
    db.put(PLACE)
    created = _commands(db).create(
        ADMIN, catalog.PLACE, {"name": "Annex", "timezone": "UTC", "address": None}
    )
    assert created.one.created_at == NOW and db.commits == 1
    (event,) = db.events
    assert (event.type, event.object_id, event.occurred_at) == (
        "place.created",
        created.one.id,
        NOW,
    )


def _schedule(holidays: list[str]) -> m.AccessSchedule:
    return m.AccessSchedule(
        id="sch_1", org_id="org_a", name="Office", windows=[], holidays=holidays, created_at=NOW
    )


def test_a_delete_answers_with_what_went_and_a_refused_one_changes_nothing() -> None:
    db = FakeDatabase()
    db.put(PLACE, _door("dor_front"), _schedule([]))
    commands = _commands(db)
    with pytest.raises(Conflict):
        commands.delete(ADMIN, catalog.PLACE, "plc_1")  # its door still uses it
    assert db.commits == 0 and "plc_1" in db.rows[m.Place]
    gone = commands.delete(ADMIN, catalog.SCHEDULE, "sch_1")
    assert gone.name == "Office" and "sch_1" not in db.rows[m.AccessSchedule]
    assert [e.type for e in db.events] == ["schedule.deleted"]


def test_holidays_are_read_and_written_in_one_transaction() -> None:
    db = FakeDatabase()
    db.put(_schedule(["2026-12-25"]))
    commands = _commands(db)
    after = commands.change_holidays(ADMIN, "sch_1", lambda days: days | {"2026-01-01"})
    assert after.holidays == ["2026-01-01", "2026-12-25"]
    assert db.get(m.AccessSchedule, "sch_1").holidays == ["2026-01-01", "2026-12-25"]
    commands.change_holidays(ADMIN, "sch_1", lambda days: days - {"2026-12-25"})
    assert db.get(m.AccessSchedule, "sch_1").holidays == ["2026-01-01"]
    assert db.commits == 2 and [e.type for e in db.events] == ["schedule.updated"] * 2
    with pytest.raises(PermissionDenied):
        commands.change_holidays(AUDITOR, "sch_1", lambda days: set())
    assert db.get(m.AccessSchedule, "sch_1").holidays == ["2026-01-01"]


def test_rows_filter_by_field_within_the_tenant() -> None:
    db = FakeDatabase()
    db.put(PLACE, _door("dor_a", schedule_id="sch_1"), _door("dor_b"))
    found = _commands(db).rows(AUDITOR, catalog.DOOR, schedule_id="sch_1")
    assert [d.id for d in found] == ["dor_a"]
    assert _commands(db).count(AUDITOR, catalog.DOOR) == 2
