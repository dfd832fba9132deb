"""Turning a reader's cache content into access decisions, offline (R12 to R16).

The content is what the server signs into snapshots (see ``proto.snapshot``), typed
row by row in ``proto.link`` (``CredentialRow``, ``MemberRow``, ``DoorSection``...)::

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
from passgate.proto import link as wire
from passgate.proto.snapshot import SnapshotError


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


def _row(section: str, key: str, raw: Any) -> Any:
    try:
        return wire.check_row(section, key, raw)
    except SnapshotError as exc:
        raise ValidationError(str(exc), field=exc.field) from None


def _small(content: Mapping[str, Any], section: str) -> Any:
    try:
        return wire.check_small(section, content.get(section))
    except SnapshotError as exc:
        raise ValidationError(str(exc), field=exc.field) from None


def _schedule(spec: wire.ScheduleSpec | None) -> Schedule | None:
    """A checked schedule as the domain's; Schedule checks each window's ranges."""
    if spec is None:
        return None
    return Schedule(
        windows=tuple(WeeklyWindow(w[0], w[1], w[2]) for w in spec["windows"]),
        holidays=frozenset(date.fromisoformat(d) for d in spec["holidays"]),
    )


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def parse_credential(key_id: str, raw: Any) -> CachedCredential:
    """One row of the credentials section; ValidationError names the bad field."""
    row: wire.CredentialRow = _row("credentials", key_id, raw)
    try:
        status = CredentialStatus(row["status"])
    except ValueError:
        where = f"credentials.{key_id}.status"
        raise ValidationError(f"{where}: unknown credential status", field=where) from None
    return CachedCredential(
        key_id=key_id,
        public_key=bytes.fromhex(row["public_key"]),
        view=CredentialView(
            kind=CredentialKind(row["kind"]), status=status, member_id=row["member_id"]
        ),
        pass_id=row.get("pass_id"),
        app_credential_id=row.get("app_credential_id"),
    )


def parse_member(member_id: str, raw: Any) -> CachedMember:
    """One row of the members section; ValidationError names the bad field."""
    row: wire.MemberRow = _row("members", member_id, raw)
    try:
        grants = tuple(
            GrantView(
                valid_from=_time(g["from"]),
                valid_until=_time(g["until"]),
                group_schedule=_schedule(g["schedule"]),
            )
            for g in row["grants"]
        )
    except ValidationError as exc:  # a window out of range
        where = f"members.{member_id}.grants"
        raise ValidationError(f"{where}: {exc}", field=where) from None
    return CachedMember(view=MemberView(id=member_id, active=row["active"]), grants=grants)


def _section(content: Mapping[str, Any], name: str) -> dict[str, Any]:
    rows = content.get(name)
    if not isinstance(rows, dict):
        raise ValidationError(f"content.{name} must be an object", field=f"content.{name}")
    return rows


def parse_cache(content: Mapping[str, Any]) -> CacheView:
    """Validate signed content once; ValidationError names the first bad field."""
    credentials = _section(content, "credentials")
    members = _section(content, "members")
    return parse_header(
        content,
        {k: parse_credential(k, v) for k, v in credentials.items()},
        {k: parse_member(k, v) for k, v in members.items()},
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
    door: wire.DoorSection = _small(content, "door")
    reader: wire.ReaderSection = _small(content, "reader")
    org: wire.OrgSection = _small(content, "org")
    try:
        readiness = tuple(Reason(reason) for reason in reader["readiness"])
    except ValueError:
        raise ValidationError("unknown readiness reason", field="reader.readiness") from None
    try:
        door_schedule = _schedule(door["schedule"])
    except ValidationError as exc:
        raise ValidationError(f"door.schedule: {exc}", field="door.schedule") from None
    return CacheView(
        door=DoorView(
            id=door["id"],
            timezone=door["timezone"],
            lockdown=door["lockdown"],
            schedule=door_schedule,
            staleness_limit=timedelta(seconds=door["staleness_limit_s"]),
        ),
        reader_id=reader["id"],
        reader_model=reader["model"],
        tamper_protection=reader["tamper_protection"],
        server_tampered=reader["tampered"],
        tamper_seq=reader["tamper_seq"],
        readiness=readiness,
        org_eligible=org["eligible"],
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
