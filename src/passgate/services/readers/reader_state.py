"""The reader hub's in-memory copy of an organization's reader content, kept by the log.

:class:`OrgState` is loaded whole once (the first reader of the organization connects
to this process) and from then on follows the reader change log
(``UnitOfWork.reader_changes``, written by the repositories): :meth:`OrgState.apply`
takes the entries after the sequence number it last built, reloads only the rows they
name with keyed queries (``all_where(key_id=...)``, ``find(id)``), and updates the
sections row by row. A change therefore costs the rows it touched, whatever the number
of credentials; ``rows_loaded`` counts them so tests can say so.

Sections are :class:`Section` objects: the rows, the running sum of their digest
shares (``proto.snapshot.row_hash``), and the keys changed since the hub last sent
them. Readers of one organization share them: the Apple Pass keys, the app keys, both
together, and one members section per door with connected readers. A reader's
content is its three small sections (org, door, reader) and two shared ones, chosen by
what the reader may hold (R13, R14, R27).

Versions: a reader's version is ``version_of(seq)``, the organization's change sequence
number above ``VERSION_BASE`` (above every time-derived version handed out before),
with room for ``SEQ_UNIT - 1`` snapshots at one sequence number (a resync).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.readiness import reader_readiness
from passgate.domain.schedule import schedule_from_input
from passgate.proto import link as wire
from passgate.proto import snapshot as snap
from passgate.services.organizations import eligibility_of
from passgate.services.ports import ReaderLink, UnitOfWork
from passgate.services.readers.cache_rows import credential_status, iso, schedule_spec

# A reader's readiness depends on its model and tamper setting alone, and the verdict is
# immutable: judged once per pair, not once per reader per pass.
_readiness = functools.lru_cache(maxsize=64)(reader_readiness)

VERSION_BASE = 1 << 52  # above any microsecond timestamp until the 22nd century
SEQ_UNIT = 1 << 20
_MOD = 1 << 256
_MISSING = object()


def version_of(seq: int, sub: int = 0) -> int:
    return VERSION_BASE + seq * SEQ_UNIT + sub


def seq_of(version: int) -> int | None:
    """The change sequence number a version stands for (None: not a log version)."""
    if version < VERSION_BASE:
        return None
    return (version - VERSION_BASE) // SEQ_UNIT


class Section:
    """An object section shared by readers: rows, their digest sum, keys changed."""

    __slots__ = ("before", "changed", "header", "name", "rows", "total")

    def __init__(self, name: str, rows: dict[str, Any] | None = None) -> None:
        self.name = name
        self.header = snap.section_hash(name, {})
        self.rows: dict[str, Any] = {}
        self.total = 0
        self.changed: set[str] = set()
        for key, value in (rows or {}).items():
            self.rows[key] = value
            self.total += snap.row_hash(name, key, value)
        self.before = self.share()  # the share readers synced before this pass hold

    def begin(self) -> None:
        self.changed.clear()
        self.before = self.share()

    def share(self) -> int:
        return (self.header + self.total) % _MOD

    def put(self, key: str, value: Any) -> None:
        """Set (``value`` None: remove) one row; a row equal to the old one is no change."""
        old = self.rows.get(key, _MISSING)
        if value is None:
            if old is _MISSING:
                return
            del self.rows[key]
        else:
            if old is not _MISSING and old == value:
                return
            self.rows[key] = value
            self.total += snap.row_hash(self.name, key, value)
        if old is not _MISSING:
            self.total -= snap.row_hash(self.name, key, old)
        self.changed.add(key)

    def delta(self, keys: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
        """The rows ``keys`` now (set) and those that are gone (unset)."""
        sets: dict[str, Any] = {}
        unsets: list[str] = []
        for key in keys:
            value = self.rows.get(key, _MISSING)
            if value is _MISSING:
                unsets.append(key)
            else:
                sets[key] = value
        return sets, sorted(unsets)


EMPTY_CREDENTIALS = Section("credentials")
EMPTY_MEMBERS = Section("members")


class SmallHashes:
    """Digest shares of small section values, by object: the values a state hands out are
    kept as the same objects while they are equal (the organization's, each door's and
    each reader's), so a thousand readers of one door cost one hash of the door, and a
    reader's own section is hashed again only when it changed."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Any, int]] = {}

    def of(self, name: str, value: Any) -> int:
        found = self._by_id.get(id(value))
        if found is not None and found[0] is value:
            return found[1]
        share = snap.section_hash(name, value)
        if len(self._by_id) > 65_536:
            self._by_id.clear()  # replaced values pile up: start again (cheap)
        self._by_id[id(value)] = (value, share)  # holding it keeps its id unique
        return share


@dataclass
class ReaderView:
    """One reader's content: its small sections and the shared sections it holds."""

    small: dict[str, Any]  # org, door, reader
    credentials: Section
    members: Section
    hashes: SmallHashes | None = None

    def content(self) -> dict[str, Any]:
        return {**self.small, "credentials": self.credentials.rows, "members": self.members.rows}

    def digest(self) -> str:
        of = self.hashes.of if self.hashes is not None else snap.section_hash
        total = self.credentials.share() + self.members.share()
        for name, value in self.small.items():  # a loop: no generator per reader per pass
            total += of(name, value)
        return snap.format_digest(total)


@dataclass
class Affected:
    """What a batch of log entries touched, in reader-content terms."""

    credentials: set[str] = field(default_factory=set)
    members: set[str] = field(default_factory=set)
    small: bool = False  # org, a door or a reader changed (small sections: sent whole)
    readers: set[str] = field(default_factory=set)


class OrgState:
    def __init__(self, org_id: str) -> None:
        self.org_id = org_id
        self.seq = 0
        self.rows_loaded = 0
        self.eligible = False
        self.next_change: datetime | None = None
        self.passes: dict[str, m.ApplePass] = {}
        self.devices: dict[str, m.PassDevice] = {}  # by key id
        self.pass_keys: dict[str, set[str]] = defaultdict(set)
        self.apps: dict[str, m.AppCredential] = {}  # by key id
        self.member_keys: dict[str, set[str]] = defaultdict(set)
        self.key_member: dict[str, str] = {}
        self.members: dict[str, m.Member] = {}
        self.rights: dict[str, list[m.AccessRight]] = {}  # member -> rights (by id)
        self.group_members: dict[str, set[str]] = defaultdict(set)
        self.groups: dict[str, m.Group] = {}
        self.group_doors: dict[str, set[str]] = {}
        self.schedules: dict[str, wire.ScheduleSpec | None] = {}
        self.door_rows: dict[str, m.Door] = {}
        self.doors: dict[str, wire.DoorSection] = {}
        self.readers: dict[str, m.Reader] = {}
        self.links: dict[str, ReaderLink] = {}
        self.apple = Section("credentials")
        self.app = Section("credentials")
        self.both = Section("credentials")
        self.door_members: dict[str, Section] = {}
        # Small section values handed out, kept as one object while equal (SmallHashes).
        self.hashes = SmallHashes()
        self._org_value: dict[str, Any] = {"eligible": False}
        self._reader_values: dict[str, dict[str, Any]] = {}

    # --- loading ---------------------------------------------------------------------

    def load(self, uow: UnitOfWork, seq: int, now: datetime) -> None:
        """Everything, once: the organization's content as of (at least) ``seq``."""
        self.seq = seq
        self._org(uow, now)
        for s in uow.repo(m.AccessSchedule).all_where():
            self._schedule_row(s.id, s)
        for g in uow.repo(m.Group).all_where():
            self.groups[g.id] = g
            self.group_doors[g.id] = set(uow.group_doors.doors_of(g.id))
        for d in uow.repo(m.Door).all_where():
            self._door_row(d.id, d)
        self.passes = {p.id: p for p in uow.repo(m.ApplePass).all_where()}
        for device in uow.repo(m.PassDevice).all_where():
            self.devices[device.key_id] = device
            self.pass_keys[device.pass_id].add(device.key_id)
        self.apps = {a.key_id: a for a in uow.repo(m.AppCredential).all_where()}
        self.members = {x.id: x for x in uow.repo(m.Member).all_where()}
        rights: dict[str, list[m.AccessRight]] = defaultdict(list)
        for right in uow.repo(m.AccessRight).all_where():
            rights[right.member_id].append(right)
        for member_id, found in rights.items():
            self._rights_of(member_id, found)
        self.readers = {r.id: r for r in uow.repo(m.Reader).all_where()}
        self.links = {x.id: x for x in uow.repo(ReaderLink).all_where()}
        self.rows_loaded += (
            len(self.passes) + len(self.devices) + len(self.apps) + len(self.members)
        )
        apple: dict[str, Any] = {}
        app: dict[str, Any] = {}
        for key_id in self.devices:
            value = self._apple_row(key_id)
            if value is not None:
                apple[key_id] = value
        for key_id in self.apps:
            app[key_id] = self._app_row(key_id)
        self.apple, self.app = Section("credentials", apple), Section("credentials", app)
        self.both = Section("credentials", {**apple, **app})
        for key_id, row in {**apple, **app}.items():
            self.key_member[key_id] = row["member_id"]
            self.member_keys[row["member_id"]].add(key_id)
        self.door_members = {}

    def _org(self, uow: UnitOfWork, now: datetime) -> None:
        org = uow.organizations.get(self.org_id)
        self.eligible = eligibility_of(uow, org, now).eligible
        times = [
            t
            for s in uow.repo(m.Subscription).all_where()
            for t in (s.valid_from, s.valid_until)
            if t is not None and t > now
        ]
        self.next_change = min(times, default=None)

    def _schedule_row(self, schedule_id: str, s: m.AccessSchedule | None) -> None:
        if s is None:
            self.schedules.pop(schedule_id, None)
        else:
            self.schedules[schedule_id] = schedule_spec(schedule_from_input(s.windows, s.holidays))

    def _door_row(self, door_id: str, d: m.Door | None) -> None:
        if d is None:
            self.door_rows.pop(door_id, None)
            self.doors.pop(door_id, None)
            self.door_members.pop(door_id, None)
            return
        self.door_rows[door_id] = d
        value: wire.DoorSection = {
            "id": d.id,
            "timezone": d.timezone,
            "lockdown": d.lockdown,
            "staleness_limit_s": d.staleness_limit_s,
            "schedule": self.schedules.get(d.schedule_id) if d.schedule_id else None,
        }
        if self.doors.get(door_id) != value:
            self.doors[door_id] = value  # a new object: never changed in place

    def _rights_of(self, member_id: str, rights: list[m.AccessRight]) -> None:
        for right in self.rights.get(member_id, []):
            self.group_members[right.group_id].discard(member_id)
        if rights:
            self.rights[member_id] = sorted(rights, key=lambda r: r.id)
            for right in rights:
                self.group_members[right.group_id].add(member_id)
        else:
            self.rights.pop(member_id, None)

    def _apple_row(self, key_id: str) -> wire.CredentialRow | None:
        device = self.devices.get(key_id)
        owner = self.passes.get(device.pass_id) if device is not None else None
        if device is None or owner is None:
            return None
        return {
            "public_key": device.public_key,
            "kind": "apple_pass",
            "status": credential_status(owner.status, device.status).value,
            "member_id": owner.member_id,
            "pass_id": owner.id,
        }

    def _app_row(self, key_id: str) -> wire.CredentialRow | None:
        cred = self.apps.get(key_id)
        if cred is None:
            return None
        return {
            "public_key": cred.public_key,
            "kind": "mobile_app",
            "status": cred.status,
            "member_id": cred.member_id,
            "app_credential_id": cred.id,
        }

    # --- members per door ------------------------------------------------------------

    def member_entry(self, member_id: str, door_id: str) -> wire.MemberRow | None:
        member = self.members.get(member_id)
        if member is None or not self.member_keys.get(member_id):
            return None  # only members holding a credential are in a reader's cache
        grants: list[wire.GrantRow] = []
        for right in self.rights.get(member_id, []):
            if door_id in self.group_doors.get(right.group_id, ()):
                group = self.groups.get(right.group_id)
                schedule_id = group.schedule_id if group is not None else None
                grants.append(
                    {
                        "from": iso(right.valid_from),
                        "until": iso(right.valid_until),
                        "schedule": self.schedules.get(schedule_id) if schedule_id else None,
                    }
                )
        return {"active": member.status == m.MemberStatus.ACTIVE, "grants": grants}

    def members_of_door(self, door_id: str) -> Section:
        """The door's members section, built the first time a reader of it needs it."""
        found = self.door_members.get(door_id)
        if found is None:
            rows: dict[str, Any] = {}
            for member_id in self.member_keys:
                entry = self.member_entry(member_id, door_id)
                if entry is not None:
                    rows[member_id] = entry
            found = self.door_members[door_id] = Section("members", rows)
        return found

    def drop_doors_except(self, keep: set[str]) -> None:
        for door_id in [d for d in self.door_members if d not in keep]:
            del self.door_members[door_id]

    # --- a reader's content ----------------------------------------------------------

    def view(self, reader_id: str) -> ReaderView | None:
        """The reader's content now; None when the reader (or its door) is gone."""
        reader = self.readers.get(reader_id)
        if reader is None or reader.door_id not in self.doors:
            return None
        verdict = _readiness(reader.model, reader.tamper_protection)
        trusted = verdict.ready and not reader.tampered
        # R27: app keys reach every reader that is not tampered; R13: Apple Pass keys only
        # readers that may hold them; R14: a tampered reader gets no key material.
        app_ok = not reader.tampered and bool(self.app.rows)
        if trusted and app_ok:
            credentials = self.both
        elif trusted:
            credentials = self.apple
        elif app_ok:
            credentials = self.app
        else:
            credentials = EMPTY_CREDENTIALS
        members = self.members_of_door(reader.door_id) if trusted or app_ok else EMPTY_MEMBERS
        link = self.links.get(reader_id)
        own = {
            "id": reader.id,
            "model": reader.model,
            "tamper_protection": reader.tamper_protection,
            "tampered": reader.tampered,
            "tamper_seq": link.tamper_seq if link is not None else 0,
            "readiness": list(verdict.reasons),
        }
        kept = self._reader_values.get(reader_id)
        if kept != own:
            kept = self._reader_values[reader_id] = own  # a new object: never changed in place
        if self._org_value["eligible"] != self.eligible:
            self._org_value = {"eligible": self.eligible}
        small = {"org": self._org_value, "door": self.doors[reader.door_id], "reader": kept}
        return ReaderView(small, credentials, members, self.hashes)

    def public_key(self, reader_id: str) -> str | None:
        link = self.links.get(reader_id)
        return None if link is None else link.public_key

    # --- following the log -----------------------------------------------------------

    def begin_pass(self) -> None:
        for section in (self.apple, self.app, self.both, *self.door_members.values()):
            section.begin()

    def expand(self, entries: Iterable[tuple[str, str]]) -> Affected:
        """The content keys a set of entries may have changed, judged on the current rows."""
        out = Affected()
        for kind, oid in entries:
            if kind == "credential":
                out.credentials.add(oid)
                member = self.key_member.get(oid)
                if member is not None:
                    out.members.add(member)
            elif kind == "pass":
                out.credentials.update(self.pass_keys.get(oid, ()))
                owner = self.passes.get(oid)
                if owner is not None:
                    out.members.add(owner.member_id)
            elif kind == "member":
                out.members.add(oid)
            elif kind == "group":
                out.members.update(self.group_members.get(oid, ()))
            elif kind == "schedule":
                out.small = True  # doors with that schedule
                for group_id, group in self.groups.items():
                    if group.schedule_id == oid:
                        out.members.update(self.group_members.get(group_id, ()))
            elif kind in ("org", "door"):
                out.small = True
            elif kind == "reader":
                out.small = True
                out.readers.add(oid)
            # Other kinds name no content: ``command`` (a door command for the hub to
            # send, services.readers.door_commands), ``aliro_group`` (certificates).
        return out

    def apply(
        self, uow: UnitOfWork, seq: int, entries: Iterable[tuple[str, str]], now: datetime
    ) -> Affected:
        """Reload the rows ``entries`` name and update the sections; now at ``seq``."""
        todo = set(entries)
        kinds: dict[str, set[str]] = defaultdict(set)
        for kind, oid in todo:
            kinds[kind].add(oid)
        before = self.expand(todo)  # keys the old rows lead to (a member leaving a group)
        loaded = 0
        if kinds["org"]:
            self._org(uow, now)
            loaded += 1
        for sid in kinds["schedule"]:
            self._schedule_row(sid, uow.repo(m.AccessSchedule).find(sid))
            loaded += 1
        for gid in kinds["group"]:
            group = uow.repo(m.Group).find(gid)
            if group is None:
                self.groups.pop(gid, None)
                self.group_doors.pop(gid, None)
            else:
                self.groups[gid] = group
                self.group_doors[gid] = set(uow.group_doors.doors_of(gid))
            loaded += 1 + len(self.group_doors.get(gid, ()))
        doors = set(kinds["door"])
        if kinds["schedule"]:
            doors.update(
                d.id for d in self.door_rows.values() if d.schedule_id in kinds["schedule"]
            )
        for did in doors:
            door = uow.repo(m.Door).find(did) if did in kinds["door"] else self.door_rows.get(did)
            self._door_row(did, door)
            loaded += 1
        for rid in kinds["reader"]:
            reader = uow.repo(m.Reader).find(rid)
            link = uow.repo(ReaderLink).find(rid)
            loaded += 2
            if reader is None:
                self.readers.pop(rid, None)
            else:
                self.readers[rid] = reader
            if link is None:
                self.links.pop(rid, None)
            else:
                self.links[rid] = link
        keys = set(kinds["credential"])
        for pid in kinds["pass"]:
            found = uow.repo(m.ApplePass).find(pid)
            loaded += 1
            if found is None:
                self.passes.pop(pid, None)
            else:
                self.passes[pid] = found
            keys.update(self.pass_keys.get(pid, ()))
        for key_id in kinds["credential"]:
            devices = uow.repo(m.PassDevice).all_where(key_id=key_id)
            apps = uow.repo(m.AppCredential).all_where(key_id=key_id)
            loaded += len(devices) + len(apps)
            old = self.devices.pop(key_id, None)
            if old is not None:
                self.pass_keys[old.pass_id].discard(key_id)
            if devices:
                self.devices[key_id] = devices[0]
                self.pass_keys[devices[0].pass_id].add(key_id)
                if devices[0].pass_id not in self.passes:
                    owner = uow.repo(m.ApplePass).find(devices[0].pass_id)
                    loaded += 1
                    if owner is not None:
                        self.passes[owner.id] = owner
            if apps:
                self.apps[key_id] = apps[0]
            else:
                self.apps.pop(key_id, None)
        members = set(kinds["member"])
        for mid in kinds["member"]:
            member = uow.repo(m.Member).find(mid)
            rights = uow.repo(m.AccessRight).all_where(member_id=mid)
            loaded += 1 + len(rights)
            if member is None:
                self.members.pop(mid, None)
            else:
                self.members[mid] = member
            self._rights_of(mid, rights)
        for key_id in keys:
            apple, app = self._apple_row(key_id), self._app_row(key_id)
            self.apple.put(key_id, apple)
            self.app.put(key_id, app)
            self.both.put(key_id, app if app is not None else apple)
            row = app if app is not None else apple
            old_member = self.key_member.pop(key_id, None)
            if old_member is not None:
                self.member_keys[old_member].discard(key_id)
                if not self.member_keys[old_member]:
                    del self.member_keys[old_member]
                members.add(old_member)
            if row is not None:
                self.key_member[key_id] = row["member_id"]
                self.member_keys[row["member_id"]].add(key_id)
                members.add(row["member_id"])
        after = self.expand(todo)
        members |= before.members | after.members
        for door_id, section in self.door_members.items():
            for mid in members:
                section.put(mid, self.member_entry(mid, door_id))
        self.rows_loaded += loaded
        self.seq = max(self.seq, seq)
        after.credentials |= before.credentials | keys
        after.members = members
        after.small = after.small or before.small
        return after
