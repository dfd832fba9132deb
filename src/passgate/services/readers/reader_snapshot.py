"""What each reader's cache holds: the content the gateway signs (see domain.reader_cache).

Built per organization once (credentials, members and their grants, eligibility) and then
cut per door and reader, so fanning a change out to a thousand readers costs one set of
queries. Readers that may not take Apple Passes (R13) get no Apple Pass keys at all, only
the readiness verdict that explains the denial.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.access import CredentialStatus
from passgate.domain.readiness import reader_readiness
from passgate.domain.schedule import Schedule, schedule_from_input
from passgate.services.organizations import eligibility_of
from passgate.services.ports import ReaderLink, UnitOfWork


def _schedule(schedule: Schedule | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    return {
        "windows": [[w.weekday, w.start_minute, w.end_minute] for w in schedule.windows],
        "holidays": sorted(d.isoformat() for d in schedule.holidays),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def credential_status(pass_status: str, device_status: str) -> CredentialStatus:
    """Pass and device status folded into one reader-facing status (R10, R19)."""
    if pass_status == m.PassStatus.DELETED or device_status == m.DeviceStatus.REVOKED:
        return CredentialStatus.DELETED
    if device_status == m.DeviceStatus.REPLACED:
        return CredentialStatus.REPLACED
    if pass_status == m.PassStatus.SUSPENDED:
        return CredentialStatus.SUSPENDED
    if pass_status == m.PassStatus.ACTIVE and device_status == m.DeviceStatus.ACTIVE:
        return CredentialStatus.ACTIVE
    return CredentialStatus.DELETED  # an unknown status never opens a door


@dataclass
class OrgCache:
    """The organization-wide parts, shared by every reader of the organization."""

    eligible: bool
    credentials: dict[str, dict[str, Any]]  # Apple Pass keys
    app_credentials: dict[str, dict[str, Any]]  # the mobile app's keys (R27)
    members: dict[str, dict[str, Any]]  # member id -> active flag, grants added per door
    rights: dict[str, list[tuple[m.AccessRight, str]]]  # member id -> (right, group id)
    group_schedules: dict[str, dict[str, Any] | None]
    group_doors: dict[str, set[str]]  # group id -> doors
    doors: dict[str, dict[str, Any]]
    readers: dict[str, m.Reader]
    tamper_seq: dict[str, int]


def load_org(uow: UnitOfWork, org_id: str, now: datetime) -> OrgCache:
    org = uow.organizations.get(org_id)
    eligible = eligibility_of(uow, org, now).eligible
    schedules = {
        s.id: _schedule(schedule_from_input(s.windows, s.holidays))
        for s in uow.repo(m.AccessSchedule).all_where()
    }
    passes = {p.id: p for p in uow.repo(m.ApplePass).all_where()}
    credentials: dict[str, dict[str, Any]] = {}
    for device in uow.repo(m.PassDevice).all_where():
        owner = passes.get(device.pass_id)
        if owner is None:
            continue
        credentials[device.key_id] = {
            "public_key": device.public_key,
            "kind": "apple_pass",
            "status": credential_status(owner.status, device.status).value,
            "member_id": owner.member_id,
            "pass_id": owner.id,
        }
    app_credentials = {
        cred.key_id: {
            "public_key": cred.public_key,
            "kind": "mobile_app",
            "status": cred.status,
            "member_id": cred.member_id,
            "app_credential_id": cred.id,
        }
        for cred in uow.repo(m.AppCredential).all_where()
    }
    holders = {c["member_id"] for c in (*credentials.values(), *app_credentials.values())}
    members = {
        mem.id: {"active": mem.status == m.MemberStatus.ACTIVE, "grants": []}
        for mem in uow.repo(m.Member).all_where()
        if mem.id in holders
    }
    groups = uow.repo(m.Group).all_where()
    rights: dict[str, list[tuple[m.AccessRight, str]]] = defaultdict(list)
    for right in uow.repo(m.AccessRight).all_where():
        if right.member_id in members:
            rights[right.member_id].append((right, right.group_id))
    doors = {
        d.id: {
            "id": d.id,
            "timezone": d.timezone,
            "lockdown": d.lockdown,
            "staleness_limit_s": d.staleness_limit_s,
            "schedule": schedules.get(d.schedule_id) if d.schedule_id else None,
        }
        for d in uow.repo(m.Door).all_where()
    }
    return OrgCache(
        eligible=eligible,
        credentials=credentials,
        app_credentials=app_credentials,
        members=members,
        rights=dict(rights),
        group_schedules={
            g.id: schedules.get(g.schedule_id) if g.schedule_id else None for g in groups
        },
        group_doors={g.id: set(uow.group_doors.doors_of(g.id)) for g in groups},
        doors=doors,
        readers={r.id: r for r in uow.repo(m.Reader).all_where()},
        tamper_seq={link.id: link.tamper_seq for link in uow.repo(ReaderLink).all_where()},
    )


def next_scheduled_change(uow: UnitOfWork, now: datetime) -> datetime | None:
    """The next time the organization's reader content changes with no commit at all.

    Eligibility depends on the clock (a subscription starts or ends, R1); the gateway
    wakes at that time instead of polling for it.
    """
    times = [
        t
        for s in uow.repo(m.Subscription).all_where()
        for t in (s.valid_from, s.valid_until)
        if t is not None and t > now
    ]
    return min(times, default=None)


def door_members(cache: OrgCache, door_id: str) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for member_id, base in cache.members.items():
        grants = [
            {
                "from": _iso(right.valid_from),
                "until": _iso(right.valid_until),
                "schedule": cache.group_schedules.get(group_id),
            }
            for right, group_id in cache.rights.get(member_id, [])
            if door_id in cache.group_doors.get(group_id, set())
        ]
        result[member_id] = {"active": base["active"], "grants": grants}
    return result


def reader_content(
    cache: OrgCache,
    reader_id: str,
    shared: dict[str, dict[str, Any]] | None = None,
    merged: dict[str, dict[str, dict[str, Any]]] | None = None,
) -> dict[str, Any] | None:
    """The cache content of one reader; None when the reader (or its door) is gone.

    ``shared`` memoizes the per-door member sections across the readers of one push, and
    ``merged`` the credentials section (Apple Pass and app keys together).
    """
    reader = cache.readers.get(reader_id)
    if reader is None or reader.door_id not in cache.doors:
        return None
    verdict = reader_readiness(reader.model, reader.tamper_protection)
    trusted = verdict.ready and not reader.tampered
    # App credentials reach every reader that is not tampered: their rule is decided at
    # the reader (Bluetooth only, tamper protection on), where the denial names it (R27).
    app_ok = not reader.tampered and bool(cache.app_credentials)
    credentials = _credentials(cache, trusted, app_ok, merged)
    if shared is not None and reader.door_id in shared:
        members = shared[reader.door_id]
    else:
        members = door_members(cache, reader.door_id)
        if shared is not None:
            shared[reader.door_id] = members
    return {
        "org": {"eligible": cache.eligible},
        "door": cache.doors[reader.door_id],
        "reader": {
            "id": reader.id,
            "model": reader.model,
            "tamper_protection": reader.tamper_protection,
            "tampered": reader.tampered,
            "tamper_seq": cache.tamper_seq.get(reader.id, 0),
            "readiness": list(verdict.reasons),
        },
        # R13: Apple Pass keys only reach readers that may hold them; a tampered reader
        # is cut off from key material until an admin clears it (R14).
        "credentials": credentials,
        "members": members if trusted or app_ok else {},
    }


def _credentials(
    cache: OrgCache,
    apple_ok: bool,
    app_ok: bool,
    merged: dict[str, dict[str, dict[str, Any]]] | None,
) -> dict[str, dict[str, Any]]:
    if not app_ok:
        return cache.credentials if apple_ok else {}
    if not apple_ok:
        return cache.app_credentials
    if merged is not None and "both" in merged:
        return merged["both"]
    both = {**cache.credentials, **cache.app_credentials}
    if merged is not None:
        merged["both"] = both
    return both


class SectionInterner:
    """Hands back last pass's section object when a freshly built one equals it.

    The gateway rebuilds the content from the database on every pass; interning makes
    an unchanged section the very same object as before, so "did this reader's content
    change?" is a pointer comparison per section (``snapshot.same_content``) and the
    digest and diff memos share their work across every reader holding that section.
    Sections not seen in a pass are forgotten.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], Any] = {}
        self._next: dict[tuple[str, str], Any] = {}

    def __call__(self, kind: str, key: str, value: Any) -> Any:
        found = self._next.get((kind, key), _UNSET)
        if found is not _UNSET and (found is value or found == value):
            return found
        old = self._last.get((kind, key), _UNSET)
        if old is not _UNSET and (old is value or old == value):
            value = old
        self._next[(kind, key)] = value
        return value

    def end_pass(self) -> None:
        self._last, self._next = self._next, {}


_UNSET = object()


def contents_for(
    uow: UnitOfWork,
    org_id: str,
    reader_ids: Iterable[str],
    now: datetime,
    interner: SectionInterner | None = None,
) -> dict[str, dict[str, Any] | None]:
    cache = load_org(uow, org_id, now)
    if interner is not None:
        # Org-wide and per-door sections become last pass's objects when unchanged.
        cache.credentials = interner("credentials", "", cache.credentials)
        cache.app_credentials = interner("app_credentials", "", cache.app_credentials)
        cache.doors = {k: interner("door", k, v) for k, v in cache.doors.items()}
    shared: dict[str, dict[str, Any]] = {}
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    out: dict[str, dict[str, Any] | None] = {}
    for rid in reader_ids:
        reader = cache.readers.get(rid)
        if interner is not None and reader is not None and reader.door_id in cache.doors:
            door_id = reader.door_id
            if door_id not in shared:
                shared[door_id] = interner("members", door_id, door_members(cache, door_id))
        content = reader_content(cache, rid, shared, merged)
        if content is not None and interner is not None:
            content["org"] = interner("org", "", content["org"])
        out[rid] = content
    if interner is not None:
        if "both" in merged:  # the merged section is the same object across passes too
            section = interner("credentials", "both", merged["both"])
            for content in out.values():
                if content is not None and content["credentials"] is merged["both"]:
                    content["credentials"] = section
        interner.end_pass()
    return out
