"""Suspend, resume and delete as service commands, on the fake ports (no database).

The command checks the caller's role, runs in one transaction of its own, stamps the
fixed clock's time and queues pushes on the configured APNs topic; a refused command
changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from passgate.domain.pass_records import WalletRegistration, WalletSerial
from passgate.services.actors import Actor, ActorKind
from passgate.services.credentials.pass_admin import PassCommands
from passgate.services.credentials.wallet import APNS_TOPIC

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
TOPIC = "pass.com.example.door"
ADMIN = Actor(kind=ActorKind.API_KEY, id="key_admin", name="ci", org_id="org_a", role="admin")
READER = Actor(kind=ActorKind.API_KEY, id="key_ro", name="audit", org_id="org_a", role="read_only")


@pytest.fixture
def db() -> FakeDatabase:
    d = FakeDatabase()
    d.put(
        m.Member(
            id="mem_1", org_id="org_a", email="ada@example.com", display_name="Ada",
            role="member", status="active", external_id=None, created_at=T0,
        ),
        m.ApplePass(
            id="pas_1", org_id="org_a", member_id="mem_1", serial_number="S1",
            status=m.PassStatus.ACTIVE, created_at=T0, updated_at=T0,
        ),
        m.PassDevice(
            id="dev_1", org_id="org_a", pass_id="pas_1", kind="iphone", device_id="ios-1",
            model="iPhone15,2", os_version="18.1", app_version="1.0", public_key="04" + "ab" * 64,
            key_id="kid_1", status=m.DeviceStatus.ACTIVE, added_at=T0,
        ),
        WalletSerial(
            id="ser_1", org_id="org_a", pass_id="pas_1", device_row_id="dev_1", kind="iphone",
            created_at=T0, updated_at=T0,
        ),
        WalletRegistration(
            id="reg_1", org_id="org_a", device_library_id="lib_1", pass_type_id="pass.other",
            serial="ser_1", push_token="ab" * 32, created_at=T0, updated_at=T0,
        ),
    )  # fmt: skip
    return d


def commands(db: FakeDatabase) -> PassCommands:
    return PassCommands(FakeUnitOfWorkFactory(db), FixedClock(NOW), TOPIC)


def test_suspend_commits_status_event_and_push_at_the_clocks_time(
    db: FakeDatabase,
) -> None:
    row = commands(db).change(ADMIN, "pas_1", "suspend")

    assert row.apple_pass.status == m.PassStatus.SUSPENDED
    stored = db.get(m.ApplePass, "pas_1")
    assert (stored.status, stored.suspended_at, stored.updated_at) == ("suspended", NOW, NOW)
    assert db.commits == 1
    assert [(e.type, e.actor_id, e.occurred_at) for e in db.events] == [
        ("apple_pass.suspended", "key_admin", NOW)
    ]
    push = [x for x in db.outbox if x.topic == APNS_TOPIC]
    # The push goes out on this server's pass type, not the one the Wallet registered with.
    assert [x.payload["topic"] for x in push] == [TOPIC]
    # Readers hear of it from the change log, not from outbox rows.
    assert {x.topic for x in db.outbox} == {APNS_TOPIC}
    assert db.get(WalletSerial, "ser_1").updated_at > T0


def test_delete_revokes_the_active_devices(db: FakeDatabase) -> None:
    commands(db).change(ADMIN, "pas_1", "delete")

    assert db.get(m.ApplePass, "pas_1").deleted_at == NOW
    assert db.get(m.PassDevice, "dev_1").status == m.DeviceStatus.REVOKED


def test_a_read_only_key_is_refused_before_anything_is_written(db: FakeDatabase) -> None:
    with pytest.raises(PermissionDenied):
        commands(db).change(READER, "pas_1", "suspend")

    assert db.commits == 0
    assert db.get(m.ApplePass, "pas_1").status == m.PassStatus.ACTIVE
    assert db.events == [] and db.outbox == []


def test_a_refused_transition_rolls_back_and_names_the_rule(db: FakeDatabase) -> None:
    with pytest.raises(Conflict, match="only a suspended Apple Pass can be resumed"):
        commands(db).change(ADMIN, "pas_1", "resume")

    assert db.commits == 0
    assert db.events == [] and db.outbox == []


def test_resume_after_suspend_clears_the_suspension(db: FakeDatabase) -> None:
    cmd = commands(db)
    cmd.change(ADMIN, "pas_1", "suspend")
    row = cmd.change(ADMIN, "pas_1", "resume")

    assert row.apple_pass.status == m.PassStatus.ACTIVE
    assert db.get(m.ApplePass, "pas_1").suspended_at is None
    assert [e.type for e in db.events] == ["apple_pass.suspended", "apple_pass.resumed"]


def test_another_tenants_pass_is_not_found(db: FakeDatabase) -> None:
    other = Actor(kind=ActorKind.API_KEY, id="key_b", name="b", org_id="org_b", role="admin")
    with pytest.raises(NotFound):
        commands(db).change(other, "pas_1", "suspend")

    assert db.get(m.ApplePass, "pas_1").status == m.PassStatus.ACTIVE


def test_an_unknown_action_names_the_field(db: FakeDatabase) -> None:
    with pytest.raises(ValidationError) as info:
        commands(db).change(ADMIN, "pas_1", "archive")  # type: ignore[arg-type]

    assert info.value.field == "action"
