"""Remote unlock as a service command, on the fake ports (no database).

The command checks the caller's role, refuses a door that must not open with the rule
named, writes the command and its audit event in one transaction, and then lives
pending -> sent -> done/failed, or expires.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import Conflict, NotFound, PermissionDenied
from passgate.proto import link, unlock
from passgate.services.actors import Actor, ActorKind
from passgate.services.readers import door_commands as dc

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
OWNER = Actor(
    kind=ActorKind.MEMBER,
    id="mbr_owner",
    name="Olga",
    org_id="org_a",
    role="owner",
    session_id="ses_1",
    session_kind="browser",
)
ADMIN_KEY = Actor(kind=ActorKind.API_KEY, id="key_admin", name="ci", org_id="org_a", role="admin")
READ_ONLY = Actor(
    kind=ActorKind.API_KEY, id="key_ro", name="audit", org_id="org_a", role="read_only"
)
OTHER_ORG = Actor(kind=ActorKind.API_KEY, id="key_b", name="b", org_id="org_b", role="admin")


def _reader(rid: str, **changes: object) -> m.Reader:
    reader = m.Reader(
        id=rid, org_id="org_a", door_id="door_1", name=rid, model="reader_pro_2_1",
        firmware="2.1.0", tamper_protection=True, tampered=False, online=True,
        last_seen_at=NOW - timedelta(seconds=5), created_at=T0,
    )  # fmt: skip
    for k, v in changes.items():
        setattr(reader, k, v)
    return reader


@pytest.fixture
def db() -> FakeDatabase:
    d = FakeDatabase()
    d.put(
        m.Door(
            id="door_1", org_id="org_a", place_id="plc_1", name="Front", timezone="UTC",
            lockdown=False, staleness_limit_s=3600, schedule_id=None, created_at=T0,
        ),
        _reader("rdr_1"),
    )  # fmt: skip
    return d


def commands(db: FakeDatabase, at: datetime = NOW) -> dc.DoorCommands:
    return dc.DoorCommands(FakeUnitOfWorkFactory(db), FixedClock(at), timedelta(seconds=90))


def test_unlock_writes_a_pending_command_and_an_audit_event_naming_who_and_the_session(
    db: FakeDatabase,
) -> None:
    cmd = commands(db).request_unlock(OWNER, "door_1")

    stored = db.get(dc.DoorCommand, cmd.id)
    assert (stored.state, stored.door_id, stored.reader_id, stored.requested_by) == (
        "pending", "door_1", "rdr_1", "mbr_owner",
    )  # fmt: skip
    assert stored.expires_at == NOW + timedelta(seconds=dc.LIFETIME_S)
    assert db.commits == 1
    [event] = db.events
    assert (event.type, event.actor_id, event.actor_name, event.occurred_at) == (
        "door.unlock_requested", "mbr_owner", "Olga", NOW,
    )  # fmt: skip
    assert (event.object_type, event.object_id) == ("door", "door_1")
    assert event.data["session_id"] == "ses_1"
    assert event.data["command_id"] == cmd.id and event.data["reader_id"] == "rdr_1"


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        (lambda d: d.rows[m.Door]["door_1"].__setattr__("lockdown", True), "door_lockdown"),
        (lambda d: d.put(_reader("rdr_1", tampered=True)), "reader_tampered"),
        (lambda d: d.put(_reader("rdr_1", online=False)), "reader_offline"),
        (
            lambda d: d.put(_reader("rdr_1", last_seen_at=NOW - timedelta(minutes=5))),
            "reader_offline",
        ),
        (lambda d: d.rows[m.Reader].clear(), "no_reader"),
    ],
)
def test_a_door_that_must_not_open_is_refused_naming_the_rule_and_nothing_changes(
    db: FakeDatabase, setup: object, code: str
) -> None:
    setup(db)  # type: ignore[operator]
    with pytest.raises(Conflict) as refused:
        commands(db).request_unlock(OWNER, "door_1")
    assert refused.value.code == code and refused.value.field == "door_id"
    assert "Front" in refused.value.message
    assert db.commits == 0 and not db.events and not db.rows.get(dc.DoorCommand)


def test_an_untampered_online_reader_of_the_door_is_chosen_over_a_tampered_one(
    db: FakeDatabase,
) -> None:
    db.put(_reader("rdr_1", tampered=True), _reader("rdr_2"))
    assert commands(db).request_unlock(ADMIN_KEY, "door_1").reader_id == "rdr_2"


def test_roles_and_tenants(db: FakeDatabase) -> None:
    with pytest.raises(PermissionDenied):
        commands(db).request_unlock(READ_ONLY, "door_1")
    with pytest.raises(NotFound):
        commands(db).request_unlock(OTHER_ORG, "door_1")
    cmd = commands(db).request_unlock(ADMIN_KEY, "door_1")
    assert commands(db).get(READ_ONLY, cmd.id).state == "pending"  # reading is allowed
    with pytest.raises(NotFound):
        commands(db).get(OTHER_ORG, cmd.id)


def test_claim_sends_a_command_once_to_its_connected_reader(db: FakeDatabase) -> None:
    cmd = commands(db).request_unlock(ADMIN_KEY, "door_1")
    factory = FakeUnitOfWorkFactory(db)
    assert dc.claim(factory, "org_a", ["rdr_other"], NOW) == []  # not connected here
    [sent] = dc.claim(factory, "org_a", ["rdr_1"], NOW)
    assert sent.id == cmd.id and db.get(dc.DoorCommand, cmd.id).state == "sent"
    assert dc.claim(factory, "org_a", ["rdr_1"], NOW) == []  # never twice


def test_claim_frames_are_signed_for_the_reader_and_its_connection(db: FakeDatabase) -> None:
    cmd = commands(db).request_unlock(ADMIN_KEY, "door_1")
    key = ec.generate_private_key(ec.SECP256R1())
    factory = FakeUnitOfWorkFactory(db)
    # A connection without a nonce cannot bind a frame: its command waits.
    assert dc.claim_frames(factory, "org_a", {"rdr_1": None}, lambda _org: key, NOW) == []
    [(reader_id, frame)] = dc.claim_frames(
        factory, "org_a", {"rdr_1": "n" * 24}, lambda _org: key, NOW
    )
    assert reader_id == "rdr_1"
    verdict = unlock.check_unlock(
        key.public_key(), frame, reader_id="rdr_1", link_nonce="n" * 24,
        now_ms=int(NOW.timestamp() * 1000), taken=set(),
    )  # fmt: skip
    assert verdict == unlock.UnlockCommand(cmd.id, "door_1", int(cmd.expires_at.timestamp() * 1000))


def test_results_finish_only_a_sent_command_of_that_reader_once(db: FakeDatabase) -> None:
    factory = FakeUnitOfWorkFactory(db)
    cmd = commands(db).request_unlock(ADMIN_KEY, "door_1")
    ok = link.UnlockResult(command_id=cmd.id, ok=True, reason="granted")
    assert dc.record_result(factory, "org_a", "rdr_1", ok, NOW) is None  # not sent yet
    dc.claim(factory, "org_a", ["rdr_1"], NOW)
    assert dc.record_result(factory, "org_a", "rdr_2", ok, NOW) is None  # another reader
    assert dc.record_result(factory, "org_b", "rdr_1", ok, NOW) is None  # another tenant
    done = dc.record_result(factory, "org_a", "rdr_1", ok, NOW)
    assert done is not None and (done.state, done.reason, done.finished_at) == (
        "done", "granted", NOW,
    )  # fmt: skip
    failed = link.UnlockResult(command_id=cmd.id, ok=False, reason="door_lockdown")
    assert dc.record_result(factory, "org_a", "rdr_1", failed, NOW) is None  # only once
    assert commands(db).get(ADMIN_KEY, cmd.id).state == "done"


def test_a_refusal_from_the_reader_fails_the_command_with_its_reason(db: FakeDatabase) -> None:
    factory = FakeUnitOfWorkFactory(db)
    cmd = commands(db).request_unlock(ADMIN_KEY, "door_1")
    dc.claim(factory, "org_a", ["rdr_1"], NOW)
    msg = link.UnlockResult(command_id=cmd.id, ok=False, reason="relay_fault")
    dc.record_result(factory, "org_a", "rdr_1", msg, NOW)
    assert (db.get(dc.DoorCommand, cmd.id).state, db.get(dc.DoorCommand, cmd.id).reason) == (
        "failed", "relay_fault",
    )  # fmt: skip


def test_commands_expire_when_not_delivered_or_not_answered(db: FakeDatabase) -> None:
    factory = FakeUnitOfWorkFactory(db)
    waiting = commands(db).request_unlock(ADMIN_KEY, "door_1")
    later = NOW + timedelta(seconds=dc.LIFETIME_S)
    assert commands(db, later).get(ADMIN_KEY, waiting.id).state == "expired"
    assert db.get(dc.DoorCommand, waiting.id).reason == "not_delivered"
    # Once expired, it is never sent.
    assert dc.claim(factory, "org_a", ["rdr_1"], later) == []

    sent = commands(db).request_unlock(ADMIN_KEY, "door_1")
    dc.claim(factory, "org_a", ["rdr_1"], NOW)
    assert commands(db, later).get(ADMIN_KEY, sent.id).state == "sent"  # an answer may come
    gone = later + timedelta(seconds=dc.ANSWER_GRACE_S)
    dc.claim(factory, "org_a", [], gone)
    assert (db.get(dc.DoorCommand, sent.id).state, db.get(dc.DoorCommand, sent.id).reason) == (
        "expired", "no_answer",
    )  # fmt: skip


def test_a_sent_command_never_answered_reads_expired_with_no_hub_pass(db: FakeDatabase) -> None:
    # The hub claims only when the log names a command: reading the command is what
    # ends it when its reader never answers.
    factory = FakeUnitOfWorkFactory(db)
    sent = commands(db).request_unlock(ADMIN_KEY, "door_1")
    dc.claim(factory, "org_a", ["rdr_1"], NOW)
    expired_at = sent.expires_at + timedelta(seconds=dc.ANSWER_GRACE_S)
    just_before = expired_at - timedelta(milliseconds=1)
    assert commands(db, just_before).get(ADMIN_KEY, sent.id).state == "sent"
    read = commands(db, expired_at).get(ADMIN_KEY, sent.id)
    assert (read.state, read.reason, read.finished_at) == ("expired", "no_answer", expired_at)
    stored = db.get(dc.DoorCommand, sent.id)
    assert (stored.state, stored.reason) == ("expired", "no_answer")
    # An answer arriving after that changes nothing.
    late = link.UnlockResult(command_id=sent.id, ok=True, reason="granted")
    assert dc.record_result(factory, "org_a", "rdr_1", late, expired_at) is None
    assert db.get(dc.DoorCommand, sent.id).state == "expired"
