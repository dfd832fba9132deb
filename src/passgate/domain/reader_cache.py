"""Turning a reader's cache content into access decisions, offline (R12 to R16).

The content is what the server signs into snapshots (see ``proto.snapshot``)::

    org:         {"eligible": bool}
    door:        {"id", "timezone", "lockdown", "staleness_limit_s", "schedule"}
    reader:      {"id", "model", "tamper_protection", "tampered", "tamper_seq", "readiness"}
    credentials: {key_id: {"public_key", "kind", "status", "member_id", "pass_id",
                           "app_credential_id"}}   (kind apple_pass or mobile_app)
    members:     {member_id: {"active", "grants": [{"from", "until", "schedule"}]}}

A schedule is ``{"windows": [[weekday, start_minute, end_minute], ...], "holidays":
["YYYY-MM-DD", ...]}``. Parsing validates everything once, when the content arrives, so
a tap never meets a malformed value.

Why readiness travels in the content: the server sends no Apple Pass keys to a reader
that may not take them (R13). Such a reader cannot tell an Apple Pass from a stranger's
key on its own, so the server tells it the verdict and an unknown NFC credential there
is denied with that reason instead of ``unknown_credential``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

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
from passgate.domain.schedule import Schedule, WeeklyWindow


@dataclass(frozen=True)
class CachedCredential:
    key_id: str
    public_key: bytes
    view: CredentialView
    pass_id: str | None
    app_credential_id: str | None = None

    @property
    def credential_id(self) -> str | None:
        """The server's id of what holds this key: the Apple Pass or the app credential."""
        return self.pass_id or self.app_credential_id


@dataclass(frozen=True)
class CachedMember:
    view: MemberView
    grants: tuple[GrantView, ...]


@dataclass(frozen=True)
class CacheView:
    door: DoorView
    reader_id: str
    reader_model: str
    tamper_protection: bool
    server_tampered: bool
    tamper_seq: int
    readiness: tuple[Reason, ...]
    org_eligible: bool
    credentials: Mapping[str, CachedCredential]
    members: Mapping[str, CachedMember]


def _get(obj: Any, name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict):
        raise ValidationError(f"{where} must be an object", field=where)
    value = obj.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValidationError(f"{where}.{name} has the wrong type", field=f"{where}.{name}")
    return value


def _time(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{where} must be a timestamp", field=where)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(f"{where} must be a timestamp", field=where) from exc
    if parsed.tzinfo is None:
        raise ValidationError(f"{where} must carry a time zone", field=where)
    return parsed


def parse_schedule(raw: Any, where: str) -> Schedule | None:
    if raw is None:
        return None
    windows = _get(raw, "windows", list, where)
    holidays = _get(raw, "holidays", list, where)
    parsed: list[WeeklyWindow] = []
    for i, item in enumerate(windows):
        if not (isinstance(item, list) and len(item) == 3):
            raise ValidationError("window must be [weekday, start, end]", field=f"{where}[{i}]")
        parsed.append(WeeklyWindow(item[0], item[1], item[2]))
    days: set[date] = set()
    for i, day in enumerate(holidays):
        try:
            days.add(date.fromisoformat(day))
        except (TypeError, ValueError) as exc:
            raise ValidationError("holiday must be YYYY-MM-DD", field=f"{where}[{i}]") from exc
    return Schedule(windows=tuple(parsed), holidays=frozenset(days))


def _credential(key_id: str, raw: Any) -> CachedCredential:
    where = f"credentials.{key_id}"
    try:
        public_key = bytes.fromhex(_get(raw, "public_key", str, where))
        kind = CredentialKind(_get(raw, "kind", str, where))
        status = CredentialStatus(_get(raw, "status", str, where))
    except ValueError as exc:
        raise ValidationError(f"{where} is malformed", field=where) from exc
    member_id = _get(raw, "member_id", str, where)
    pass_id = raw.get("pass_id")
    app_id = raw.get("app_credential_id")
    return CachedCredential(
        key_id=key_id,
        public_key=public_key,
        view=CredentialView(kind=kind, status=status, member_id=member_id),
        pass_id=pass_id if isinstance(pass_id, str) else None,
        app_credential_id=app_id if isinstance(app_id, str) else None,
    )


def _member(member_id: str, raw: Any) -> CachedMember:
    where = f"members.{member_id}"
    grants = []
    for i, g in enumerate(_get(raw, "grants", list, where)):
        gw = f"{where}.grants[{i}]"
        if not isinstance(g, dict):
            raise ValidationError(f"{gw} must be an object", field=gw)
        grants.append(
            GrantView(
                valid_from=_time(g.get("from"), f"{gw}.from"),
                valid_until=_time(g.get("until"), f"{gw}.until"),
                group_schedule=parse_schedule(g.get("schedule"), f"{gw}.schedule"),
            )
        )
    return CachedMember(
        view=MemberView(id=member_id, active=_get(raw, "active", bool, where)),
        grants=tuple(grants),
    )


def parse_credential(key_id: str, raw: Any) -> CachedCredential:
    """One row of the credentials section; ValidationError names the bad field."""
    return _credential(key_id, raw)


def parse_member(member_id: str, raw: Any) -> CachedMember:
    """One row of the members section; ValidationError names the bad field."""
    return _member(member_id, raw)


def parse_cache(content: Mapping[str, Any]) -> CacheView:
    """Validate signed content once; ValidationError names the first bad field."""
    credentials = _get(content, "credentials", dict, "content")
    members = _get(content, "members", dict, "content")
    return parse_header(
        content,
        {k: _credential(k, v) for k, v in credentials.items()},
        {k: _member(k, v) for k, v in members.items()},
    )


def parse_header(
    content: Mapping[str, Any],
    credentials: Mapping[str, CachedCredential],
    members: Mapping[str, CachedMember],
) -> CacheView:
    """The view from the small sections (door, reader, org) and already parsed rows.

    A delta that changes rows only re-parses those rows; one that touches the door, the
    reader or the organization re-parses just those few fields.
    """
    door = _get(content, "door", dict, "content")
    reader = _get(content, "reader", dict, "content")
    org = _get(content, "org", dict, "content")
    readiness = []
    for reason in _get(reader, "readiness", list, "reader"):
        try:
            readiness.append(Reason(reason))
        except ValueError as exc:
            raise ValidationError("unknown readiness reason", field="reader.readiness") from exc
    return CacheView(
        door=DoorView(
            id=_get(door, "id", str, "door"),
            timezone=_get(door, "timezone", str, "door"),
            lockdown=_get(door, "lockdown", bool, "door"),
            schedule=parse_schedule(door.get("schedule"), "door.schedule"),
            staleness_limit=timedelta(seconds=_get(door, "staleness_limit_s", int, "door")),
        ),
        reader_id=_get(reader, "id", str, "reader"),
        reader_model=_get(reader, "model", str, "reader"),
        tamper_protection=_get(reader, "tamper_protection", bool, "reader"),
        server_tampered=_get(reader, "tampered", bool, "reader"),
        tamper_seq=_get(reader, "tamper_seq", int, "reader"),
        readiness=tuple(readiness),
        org_eligible=_get(org, "eligible", bool, "org"),
        credentials=credentials,
        members=members,
    )


@dataclass(frozen=True)
class TapOutcome:
    decision: Decision
    member_id: str | None
    key_id: str | None  # the key id of the credential, when known


def decide_tap(
    view: CacheView | None,
    *,
    key_id: str | None,
    method: UnlockMethod,
    now: datetime,
    synced_at: datetime | None,
    halted: bool,
) -> TapOutcome:
    """One tap judged from the cache; ``halted`` is the reader's own tamper latch (R14)."""
    if view is None:
        # Never synced: there is nothing trustworthy to decide from.
        reason = Reason.READER_TAMPERED if halted else Reason.CACHE_STALE
        return TapOutcome(Decision(False, reason), None, key_id)
    cred = view.credentials.get(key_id) if key_id is not None else None
    member = view.members.get(cred.view.member_id) if cred is not None else None
    request = TapRequest(
        method=method,
        credential=cred.view if cred is not None else None,
        member=member.view if member is not None else None,
        door=view.door,
        reader=ReaderView(
            model=view.reader_model,
            # A local tamper latch halts the reader whatever the server last said.
            tamper_protection=view.tamper_protection or halted,
            tampered=view.server_tampered or halted,
        ),
        org_eligible=view.org_eligible,
        grants=member.grants if member is not None else (),
        now=now,
        # No sync time at all counts as infinitely stale.
        cache_synced_at=synced_at
        if synced_at is not None
        else datetime.min.replace(tzinfo=now.tzinfo),
    )
    decision = decide(request)
    if (
        decision.reason == Reason.UNKNOWN_CREDENTIAL
        and cred is None
        and method == UnlockMethod.NFC
        and view.readiness
    ):
        decision = Decision(False, view.readiness[0])
    member_id = cred.view.member_id if cred is not None else None
    return TapOutcome(decision, member_id, key_id)
