"""The access decision: every reason code, the check order, and properties."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.domain.access import (
    CredentialKind,
    CredentialStatus,
    CredentialView,
    Decision,
    DoorView,
    GrantView,
    MemberView,
    ReaderView,
    Reason,
    TapRequest,
    UnlockMethod,
    decide,
)
from passgate.domain.errors import ValidationError
from passgate.domain.readiness import APPLE_PASS_READER_MODELS, KNOWN_READER_MODELS
from passgate.domain.schedule import Schedule, WeeklyWindow, is_open

BERLIN = "Europe/Berlin"
# Monday 2026-11-23, 10:00 in Berlin.
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo(BERLIN))
WORKDAY = Schedule(windows=(WeeklyWindow(0, 8 * 60, 18 * 60),))
NIGHT = Schedule(windows=(WeeklyWindow(0, 20 * 60, 6 * 60),))

PASS = CredentialView(CredentialKind.APPLE_PASS, CredentialStatus.ACTIVE, "m1")
APP = CredentialView(CredentialKind.MOBILE_APP, CredentialStatus.ACTIVE, "m1")
MEMBER = MemberView("m1", active=True)
GOOD_READER = ReaderView("reader_pro_2_1", tamper_protection=True, tampered=False)
OLD_READER = ReaderView("reader_pro_2_0", tamper_protection=True, tampered=False)
DOOR = DoorView("d1", BERLIN)
OPEN_GRANT = GrantView(None, None, None)

BASE = TapRequest(
    method=UnlockMethod.NFC,
    credential=PASS,
    member=MEMBER,
    door=DOOR,
    reader=GOOD_READER,
    org_eligible=True,
    grants=(OPEN_GRANT,),
    now=NOW,
)


def status(s: CredentialStatus, credential: CredentialView = PASS) -> CredentialView:
    return replace(credential, status=s)


@dataclass(frozen=True)
class Case:
    name: str
    request: TapRequest
    reason: Reason


CASES = [
    Case("granted_apple_pass_nfc", BASE, Reason.GRANTED),
    Case(
        "granted_mobile_app_ble_on_any_reader_model_without_subscription",
        replace(
            BASE,
            credential=APP,
            method=UnlockMethod.BLE,
            reader=ReaderView("reader_lite_1_0", True, False),
            org_eligible=False,
        ),
        Reason.GRANTED,
    ),
    Case(
        "unsupported_method_mobile_app_over_nfc",
        replace(BASE, credential=APP, method=UnlockMethod.NFC),
        Reason.UNSUPPORTED_METHOD,
    ),
    Case(
        "tamper_protection_off_mobile_app",
        replace(
            BASE,
            credential=APP,
            method=UnlockMethod.BLE,
            reader=ReaderView("reader_lite_1_0", False, False),
        ),
        Reason.TAMPER_PROTECTION_OFF,
    ),
    Case(
        "credential_suspended_mobile_app",
        replace(
            BASE,
            credential=replace(APP, status=CredentialStatus.SUSPENDED),
            method=UnlockMethod.BLE,
        ),
        Reason.CREDENTIAL_SUSPENDED,
    ),
    Case(
        "credential_deleted_mobile_app",
        replace(
            BASE, credential=replace(APP, status=CredentialStatus.DELETED), method=UnlockMethod.BLE
        ),
        Reason.CREDENTIAL_DELETED,
    ),
    Case(
        "granted_fresh_cache",
        replace(BASE, cache_synced_at=NOW - timedelta(hours=1)),
        Reason.GRANTED,
    ),
    Case(
        "granted_inside_schedules",
        replace(
            BASE, door=replace(DOOR, schedule=WORKDAY), grants=(GrantView(None, None, WORKDAY),)
        ),
        Reason.GRANTED,
    ),
    Case("no_access_right_without_grants", replace(BASE, grants=()), Reason.NO_ACCESS_RIGHT),
    Case(
        "no_access_right_grant_expired",
        replace(BASE, grants=(GrantView(None, NOW, None),)),
        Reason.NO_ACCESS_RIGHT,
    ),
    Case(
        "no_access_right_grant_not_started",
        replace(BASE, grants=(GrantView(NOW + timedelta(seconds=1), None, None),)),
        Reason.NO_ACCESS_RIGHT,
    ),
    Case(
        "outside_schedule_door_closed",
        replace(BASE, door=replace(DOOR, schedule=NIGHT)),
        Reason.OUTSIDE_SCHEDULE,
    ),
    Case(
        "outside_schedule_group_closed",
        replace(BASE, grants=(GrantView(None, None, NIGHT),)),
        Reason.OUTSIDE_SCHEDULE,
    ),
    Case(
        "pass_suspended",
        replace(BASE, credential=status(CredentialStatus.SUSPENDED)),
        Reason.PASS_SUSPENDED,
    ),
    Case(
        "pass_deleted",
        replace(BASE, credential=status(CredentialStatus.DELETED)),
        Reason.PASS_DELETED,
    ),
    Case(
        "device_replaced",
        replace(BASE, credential=status(CredentialStatus.REPLACED)),
        Reason.DEVICE_REPLACED,
    ),
    Case("org_not_eligible", replace(BASE, org_eligible=False), Reason.ORG_NOT_ELIGIBLE),
    Case("reader_unsupported", replace(BASE, reader=OLD_READER), Reason.READER_UNSUPPORTED),
    Case(
        "reader_unsupported_unknown_model",
        replace(BASE, reader=ReaderView("acme_9000", True, False)),
        Reason.READER_UNSUPPORTED,
    ),
    Case(
        "tamper_protection_off",
        replace(BASE, reader=replace(GOOD_READER, tamper_protection=False)),
        Reason.TAMPER_PROTECTION_OFF,
    ),
    Case(
        "reader_tampered",
        replace(BASE, reader=replace(GOOD_READER, tampered=True)),
        Reason.READER_TAMPERED,
    ),
    Case(
        "reader_tampered_app_credential",
        replace(BASE, credential=APP, reader=replace(GOOD_READER, tampered=True)),
        Reason.READER_TAMPERED,
    ),
    Case(
        "unsupported_method_apple_pass_ble",
        replace(BASE, method=UnlockMethod.BLE),
        Reason.UNSUPPORTED_METHOD,
    ),
    Case("unknown_credential", replace(BASE, credential=None), Reason.UNKNOWN_CREDENTIAL),
    Case("unknown_member", replace(BASE, member=None), Reason.UNKNOWN_CREDENTIAL),
    Case(
        "credential_of_another_member",
        replace(BASE, member=MemberView("m2", True)),
        Reason.UNKNOWN_CREDENTIAL,
    ),
    Case(
        "cache_stale",
        replace(BASE, cache_synced_at=NOW - timedelta(hours=36, seconds=1)),
        Reason.CACHE_STALE,
    ),
    Case(
        "cache_stale_custom_limit",
        replace(
            BASE,
            door=replace(DOOR, staleness_limit=timedelta(minutes=5)),
            cache_synced_at=NOW - timedelta(minutes=6),
        ),
        Reason.CACHE_STALE,
    ),
    Case("door_lockdown", replace(BASE, door=replace(DOOR, lockdown=True)), Reason.DOOR_LOCKDOWN),
    Case("member_inactive", replace(BASE, member=MemberView("m1", False)), Reason.MEMBER_INACTIVE),
]

ORDER_CASES = [
    Case(
        "tampered_beats_unknown_credential",
        replace(BASE, credential=None, reader=replace(GOOD_READER, tampered=True)),
        Reason.READER_TAMPERED,
    ),
    Case(
        "tampered_beats_stale_cache",
        replace(
            BASE,
            cache_synced_at=NOW - timedelta(days=30),
            reader=replace(GOOD_READER, tampered=True),
        ),
        Reason.READER_TAMPERED,
    ),
    Case(
        "stale_beats_unknown_credential",
        replace(BASE, credential=None, cache_synced_at=NOW - timedelta(days=30)),
        Reason.CACHE_STALE,
    ),
    Case(
        "suspended_pass_on_unsupported_reader",
        replace(BASE, credential=status(CredentialStatus.SUSPENDED), reader=OLD_READER),
        Reason.READER_UNSUPPORTED,
    ),
    Case(
        "ble_beats_unsupported_reader",
        replace(BASE, method=UnlockMethod.BLE, reader=OLD_READER),
        Reason.UNSUPPORTED_METHOD,
    ),
    Case(
        "unsupported_reader_beats_tamper_off",
        replace(BASE, reader=replace(OLD_READER, tamper_protection=False)),
        Reason.READER_UNSUPPORTED,
    ),
    Case(
        "tamper_off_beats_not_eligible",
        replace(BASE, org_eligible=False, reader=replace(GOOD_READER, tamper_protection=False)),
        Reason.TAMPER_PROTECTION_OFF,
    ),
    Case(
        "not_eligible_beats_deleted",
        replace(BASE, org_eligible=False, credential=status(CredentialStatus.DELETED)),
        Reason.ORG_NOT_ELIGIBLE,
    ),
    Case(
        "deleted_beats_inactive_member",
        replace(BASE, credential=status(CredentialStatus.DELETED), member=MemberView("m1", False)),
        Reason.PASS_DELETED,
    ),
    Case(
        "inactive_member_beats_lockdown",
        replace(BASE, member=MemberView("m1", False), door=replace(DOOR, lockdown=True)),
        Reason.MEMBER_INACTIVE,
    ),
    Case(
        "lockdown_beats_no_right",
        replace(BASE, grants=(), door=replace(DOOR, lockdown=True)),
        Reason.DOOR_LOCKDOWN,
    ),
    Case(
        "no_right_beats_closed_schedule",
        replace(BASE, grants=(), door=replace(DOOR, schedule=NIGHT)),
        Reason.NO_ACCESS_RIGHT,
    ),
    Case(
        "unprotected_tampered_reader_app_needs_tamper_protection",
        replace(
            BASE,
            credential=APP,
            method=UnlockMethod.BLE,
            reader=ReaderView("reader_lite_1_0", False, True),
        ),
        Reason.TAMPER_PROTECTION_OFF,
    ),
    Case(
        "unprotected_tampered_reader_apple_pass_tamper_off",
        replace(BASE, reader=ReaderView("reader_pro_2_1", False, True)),
        Reason.TAMPER_PROTECTION_OFF,
    ),
    Case(
        "one_open_group_schedule_is_enough",
        replace(BASE, grants=(GrantView(None, None, NIGHT), GrantView(None, None, WORKDAY))),
        Reason.GRANTED,
    ),
    Case(
        "closed_schedule_of_valid_grant_not_rescued_by_expired_open_grant",
        replace(
            BASE,
            grants=(GrantView(None, None, NIGHT), GrantView(None, NOW - timedelta(days=1), None)),
        ),
        Reason.OUTSIDE_SCHEDULE,
    ),
    Case(
        "valid_from_inclusive",
        replace(BASE, grants=(GrantView(NOW, NOW + timedelta(seconds=1), None),)),
        Reason.GRANTED,
    ),
    Case(
        "staleness_limit_inclusive",
        replace(BASE, cache_synced_at=NOW - timedelta(hours=36)),
        Reason.GRANTED,
    ),
    Case(
        "door_holiday_closes",
        replace(
            BASE,
            door=replace(DOOR, schedule=replace(WORKDAY, holidays=frozenset({date(2026, 11, 23)}))),
        ),
        Reason.OUTSIDE_SCHEDULE,
    ),
    Case(
        "future_sync_time_is_not_stale",
        replace(BASE, cache_synced_at=NOW + timedelta(minutes=3)),
        Reason.GRANTED,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reason_table(case: Case) -> None:
    assert decide(case.request) == Decision(case.reason is Reason.GRANTED, case.reason)


@pytest.mark.parametrize("case", ORDER_CASES, ids=[c.name for c in ORDER_CASES])
def test_check_order(case: Case) -> None:
    assert decide(case.request) == Decision(case.reason is Reason.GRANTED, case.reason)


def test_table_covers_every_reason() -> None:
    assert {c.reason for c in CASES} == set(Reason)


def test_schedules_use_door_timezone() -> None:
    # 07:30 UTC is 08:30 in Berlin (open) but 02:30 in New York (closed).
    at = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    req = replace(BASE, now=at, door=replace(DOOR, schedule=WORKDAY))
    assert decide(req).granted
    ny = replace(req, door=DoorView("d1", "America/New_York", schedule=WORKDAY))
    assert decide(ny) == Decision(False, Reason.OUTSIDE_SCHEDULE)


def test_group_schedules_use_door_timezone() -> None:
    at = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    req = replace(BASE, now=at, grants=(GrantView(None, None, WORKDAY),))
    assert decide(req).granted
    ny = replace(req, door=DoorView("d1", "America/New_York"))
    assert decide(ny) == Decision(False, Reason.OUTSIDE_SCHEDULE)


@pytest.mark.parametrize(
    "request_",
    [
        replace(BASE, now=NOW.replace(tzinfo=None)),
        replace(BASE, cache_synced_at=datetime(2026, 11, 23)),
        replace(BASE, grants=(GrantView(datetime(2026, 1, 1), None, None),)),
        replace(BASE, grants=(GrantView(None, datetime(2027, 1, 1), None),)),
    ],
    ids=["now", "cache_synced_at", "valid_from", "valid_until"],
)
def test_naive_datetimes_are_refused(request_: TapRequest) -> None:
    with pytest.raises(ValueError, match="aware"):
        decide(request_)


def test_door_rejects_unknown_timezone() -> None:
    with pytest.raises(ValidationError) as info:
        DoorView("d1", "Atlantis/Capital")
    assert info.value.field == "timezone"


@pytest.mark.parametrize("limit", [timedelta(0), timedelta(seconds=-1)])
def test_door_rejects_non_positive_staleness_limit(limit: timedelta) -> None:
    with pytest.raises(ValidationError) as info:
        DoorView("d1", BERLIN, staleness_limit=limit)
    assert info.value.field == "staleness_limit"


def test_reason_values_are_the_wire_codes() -> None:
    assert Reason("cache_stale") is Reason.CACHE_STALE
    assert Reason.CACHE_STALE.value == "cache_stale"
    assert str(Reason.OUTSIDE_SCHEDULE) == "outside_schedule"


# --- properties --------------------------------------------------------------------

ZONES = [BERLIN, "America/New_York", "UTC", "Asia/Tokyo"]
aware = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([UTC, ZoneInfo(BERLIN), ZoneInfo("America/Los_Angeles")]),
)
windows = st.builds(WeeklyWindow, st.integers(0, 6), st.integers(0, 1439), st.integers(1, 1440))
schedules = st.builds(
    Schedule,
    windows=st.lists(windows, max_size=3).map(tuple),
    holidays=st.frozensets(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=3),
)
grants = st.builds(
    GrantView,
    valid_from=st.none() | aware,
    valid_until=st.none() | aware,
    group_schedule=st.none() | schedules,
)
member_ids = st.sampled_from(["m1", "m2"])
requests = st.builds(
    TapRequest,
    method=st.sampled_from(UnlockMethod),
    credential=st.none()
    | st.builds(
        CredentialView,
        kind=st.sampled_from(CredentialKind),
        status=st.sampled_from(CredentialStatus),
        member_id=member_ids,
    ),
    member=st.none() | st.builds(MemberView, id=member_ids, active=st.booleans()),
    door=st.builds(
        DoorView,
        id=st.just("d1"),
        timezone=st.sampled_from(ZONES),
        lockdown=st.booleans(),
        schedule=st.none() | schedules,
        staleness_limit=st.timedeltas(timedelta(minutes=1), timedelta(days=3)),
    ),
    reader=st.builds(
        ReaderView,
        model=st.sampled_from(sorted(KNOWN_READER_MODELS | {"acme"})),
        tamper_protection=st.booleans(),
        tampered=st.booleans(),
    ),
    org_eligible=st.booleans(),
    grants=st.lists(grants, max_size=3).map(tuple),
    now=aware,
    cache_synced_at=st.none() | aware,
)


@st.composite
def near_grant_requests(draw: st.DrawFn) -> TapRequest:
    """Requests that are mostly well set up, each aspect broken about one time in seven.

    Fully random requests are almost never granted, which would leave the "granted
    implies ..." properties with nothing to check.
    """

    def broken() -> bool:
        return draw(st.sampled_from((False, False, False, False, False, False, True)))

    now = draw(aware)
    offsets = st.timedeltas(-timedelta(days=3), timedelta(days=1))
    door = draw(
        st.builds(
            DoorView,
            id=st.just("d1"),
            timezone=st.sampled_from(ZONES),
            lockdown=st.just(broken()),
            schedule=st.none() | schedules if broken() else st.none(),
        )
    )
    grant_list = draw(
        st.lists(
            st.builds(
                GrantView,
                valid_from=st.none() | offsets.map(lambda d: now + d),
                valid_until=st.none() | offsets.map(lambda d: now - d),
                group_schedule=st.none() | schedules,
            ),
            min_size=1,
            max_size=3,
        )
    )
    return TapRequest(
        method=draw(st.sampled_from(UnlockMethod)) if broken() else UnlockMethod.NFC,
        credential=CredentialView(
            draw(st.sampled_from(CredentialKind)),
            draw(st.sampled_from(CredentialStatus)) if broken() else CredentialStatus.ACTIVE,
            "m2" if broken() else "m1",
        ),
        member=MemberView("m1", not broken()),
        door=door,
        reader=ReaderView(
            draw(st.sampled_from(sorted(KNOWN_READER_MODELS))) if broken() else "reader_pro_2_1",
            not broken(),
            broken(),
        ),
        org_eligible=not broken(),
        grants=tuple(grant_list),
        now=now,
        cache_synced_at=now - draw(st.timedeltas(timedelta(0), timedelta(hours=40)))
        if broken()
        else None,
    )


any_requests = requests | near_grant_requests()
PROPS = settings(max_examples=400, deadline=None)


@PROPS
@given(any_requests)
def test_decide_is_total(req: TapRequest) -> None:
    decision = decide(req)
    assert isinstance(decision, Decision)
    assert isinstance(decision.reason, Reason)
    assert decision.granted is (decision.reason is Reason.GRANTED)


def _grant_current(g: GrantView, now: datetime) -> bool:
    return (g.valid_from is None or g.valid_from <= now) and (
        g.valid_until is None or now < g.valid_until
    )


@PROPS
@given(any_requests)
def test_granted_implies_some_grant_in_validity_window(req: TapRequest) -> None:
    if decide(req).granted:
        assert any(_grant_current(g, req.now) for g in req.grants)


@PROPS
@given(any_requests)
def test_granted_implies_no_deny_precondition(req: TapRequest) -> None:
    if not decide(req).granted:
        return
    reader, door, cred, member = req.reader, req.door, req.credential, req.member
    assert not (reader.tamper_protection and reader.tampered)
    assert req.cache_synced_at is None or req.now - req.cache_synced_at <= door.staleness_limit
    assert cred is not None and member is not None and cred.member_id == member.id
    if cred.kind is CredentialKind.APPLE_PASS:
        assert req.method is UnlockMethod.NFC
        assert reader.model in APPLE_PASS_READER_MODELS
        assert reader.tamper_protection
        assert req.org_eligible
    assert cred.status is CredentialStatus.ACTIVE
    assert member.active
    assert not door.lockdown
    assert door.schedule is None or is_open(door.schedule, req.now, door.timezone)
    assert any(
        _grant_current(g, req.now)
        and (g.group_schedule is None or is_open(g.group_schedule, req.now, door.timezone))
        for g in req.grants
    )


@PROPS
@given(any_requests)
def test_grant_flips_only_by_removing_the_cause(req: TapRequest) -> None:
    # Repairing every deny precondition of a request must make it granted: the deny
    # reasons above are the complete list, with nothing hidden that also denies.
    repaired = replace(
        req,
        method=UnlockMethod.NFC,
        credential=CredentialView(CredentialKind.APPLE_PASS, CredentialStatus.ACTIVE, "m1"),
        member=MemberView("m1", True),
        door=replace(req.door, lockdown=False, schedule=None),
        reader=ReaderView("reader_pro_2_1", True, False),
        org_eligible=True,
        grants=(*req.grants, OPEN_GRANT),
        cache_synced_at=None,
    )
    assert decide(repaired) == Decision(True, Reason.GRANTED)
