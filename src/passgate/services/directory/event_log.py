"""The event log as its readers see it: administrators page the organization's log
(the API's list, the dashboard's investigation page, its CSV export and its charts), a
member pages their own taps.

Each method checks the caller's role (services/authz.py), opens its own read-only unit
of work and returns a page; routes only translate HTTP. Lists page by keyset cursor
(services/paging.py) in SQL over indexes that match their filters
(adapters/db/lists.py); the total is counted up to paging.COUNT_CAP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from passgate.domain import model as m
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.directory.me import own_taps
from passgate.services.events import EVENT_LIST, EventFilter
from passgate.services.paging import Page, Position, decode_cursor
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

CHART_DAYS = 7  # charts cover the filtered range, or the last week when it has no start
_BUCKETS = (300, 900, 3600, 3 * 3600, 6 * 3600, 86400)  # time chart: at most 60 bars
ChartKind = Literal["time", "reasons", "doors"]


@dataclass(frozen=True)
class Search:
    """What an investigation asks for: the SQL filter, and optionally a person (a name
    or email fragment that must name exactly one member; it then filters by them)."""

    query: EventFilter
    person: str | None = None


@dataclass(frozen=True)
class Resolved:
    query: EventFilter
    person: m.Member | None  # the one member the person filter names
    note: str | None  # why the person filter matched nobody (then nothing is listed)


@dataclass(frozen=True)
class Investigation:
    """One page of the dashboard's event log with what the page shows beside it."""

    organization: m.Organization
    resolved: Resolved
    page: Page[m.Event]
    names: dict[str, str]  # member name by member id (and by pass id, see _names)
    doors: list[m.Door]
    readers: list[m.Reader]


@dataclass(frozen=True)
class Export:
    """A filtered range being exported: its names, and its events chunk by chunk."""

    organization: m.Organization
    door_names: dict[str, str]
    reader_names: dict[str, str]
    chunks: Iterator[tuple[list[m.Event], dict[str, str]]]


@dataclass(frozen=True)
class Chart:
    """Counts for one chart: (bucket start, granted, denied) per time bucket of
    ``bucket_s`` seconds, or (label, count) bars."""

    kind: ChartKind
    bucket_s: int = 0
    timeline: list[tuple[int, int, int]] = dataclasses.field(default_factory=list)
    bars: list[tuple[str, int]] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class EventLog:
    """Read-only queries of the event log, each one whole (role, tenant, transaction)."""

    uow_factory: UnitOfWorkFactory
    clock: Clock

    def page(
        self,
        actor: Actor,
        query: EventFilter,
        *,
        limit: int,
        cursor: str | None = None,
        offset: int = 0,
    ) -> Page[m.Event]:
        """The organization's events matching ``query``, newest first by occurred_at;
        ``cursor`` is the previous page's next cursor (ValidationError(field="cursor")
        when it is not one)."""
        authorize(actor, "list_events")
        after = decode_cursor(EVENT_LIST, cursor) if cursor is not None else None
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.events.page(query, limit=limit, after=after, offset=offset)

    def own_taps(self, actor: Actor, *, limit: int, offset: int) -> tuple[list[m.Event], int]:
        """The calling member's own access decisions, newest first, and their number."""
        authorize(actor, "list_my_events")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return own_taps(uow, actor, limit=limit, offset=offset)

    def investigate(
        self, actor: Actor, search: Search, *, limit: int, after: Position | None = None
    ) -> Investigation:
        """A page of the organization's events for the dashboard, in one read-only
        transaction, with the names, doors and readers the page shows."""
        authorize(actor, "list_events")
        org_id = actor.require_org()
        with self.uow_factory(org_id, write=False) as uow:
            resolved = resolve(uow, search)
            page = uow.events.page(resolved.query, limit=limit, after=after)
            return Investigation(
                organization=uow.organizations.get(org_id),
                resolved=resolved,
                page=page,
                names=_names(uow, page.items),
                doors=uow.repo(m.Door).all_where(),
                readers=uow.repo(m.Reader).all_where(),
            )

    def export(self, actor: Actor, search: Search, *, chunk: int) -> Export:
        """The whole filtered range, newest first. The role and the filter are checked
        now (a bad filter is an error before any row is sent); each chunk of ``chunk``
        events is then read in its own short transaction as the caller iterates."""
        authorize(actor, "list_events")
        org_id = actor.require_org()
        with self.uow_factory(org_id, write=False) as uow:
            resolved = resolve(uow, search)
            org = uow.organizations.get(org_id)
            doors = {d.id: d.name for d in uow.repo(m.Door).all_where()}
            readers = {r.id: r.name for r in uow.repo(m.Reader).all_where()}

        def chunks() -> Iterator[tuple[list[m.Event], dict[str, str]]]:
            after: Position | None = None
            while True:
                with self.uow_factory(org_id, write=False) as uow:
                    page = uow.events.page(resolved.query, limit=chunk, after=after)
                    names = _names(uow, page.items)
                yield page.items, names
                if page.next is None:
                    return
                after = page.next

        return Export(org, doors, readers, chunks())

    def chart(self, actor: Actor, search: Search, kind: ChartKind) -> Chart:
        """Access decisions counted in SQL for one chart, over the filtered range or
        the last CHART_DAYS days up to now when the filter has no start."""
        authorize(actor, "list_events")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            q = resolve(uow, search).query
            until = q.until or self.clock.now()
            since = q.since or until - timedelta(days=CHART_DAYS)
            q = dataclasses.replace(q, since=since, until=until, category="access")
            if kind == "time":
                size = _bucket((until - since).total_seconds())
                series: dict[int, list[int]] = {}
                for slot, granted in ((0, True), (1, False)):
                    if q.granted not in (None, granted):
                        continue
                    part = dataclasses.replace(q, granted=granted)
                    for start, n in uow.events.counts(part, "time", bucket_s=size):
                        series.setdefault(int(start), [0, 0])[slot] = n
                timeline = [(k, v[0], v[1]) for k, v in sorted(series.items())]
                return Chart(kind, bucket_s=size, timeline=timeline)
            if kind == "reasons":
                if q.granted is True:
                    return Chart(kind)
                rows = uow.events.counts(dataclasses.replace(q, granted=False), "reason")
                return Chart(kind, bars=[(str(k).replace("_", " "), n) for k, n in rows])
            doors = {d.id: d.name for d in uow.repo(m.Door).all_where()}
            rows = uow.events.counts(q, "door_id")
            bars = [(doors.get(str(k), "no door") if k else "no door", n) for k, n in rows]
            return Chart(kind, bars=bars)


def _bucket(span_s: float) -> int:
    for size in _BUCKETS:
        if span_s / size <= 60:
            return size
    return _BUCKETS[-1]


def resolve(uow: UnitOfWork, search: Search) -> Resolved:
    """The SQL filter a search asks for: a person fragment must name one member, who
    then filters the list; otherwise the list is empty and the note says why."""
    query, person, note = search.query, None, None
    if search.person:
        found, total = uow.repo(m.Member).list(
            search=(("display_name", "email"), search.person), limit=2
        )
        if total == 1:
            person = found[0]
            query = dataclasses.replace(query, member_id=person.id)
        else:
            note = (
                f"No person matches “{search.person}”."
                if total == 0
                else f"{total} people match “{search.person}”: type more of the name or the email."
            )
            query = dataclasses.replace(query, member_id="-")  # no member has this id
    elif query.member_id:
        person = uow.repo(m.Member).find(query.member_id)
    return Resolved(query=query, person=person, note=note)


def _names(uow: UnitOfWork, events: list[m.Event]) -> dict[str, str]:
    """Member names for the events shown: by member id, or (a denial of a known pass
    whose member the reader did not send) through the pass the credential id names."""
    member_ids = {e.member_id for e in events if e.member_id}
    via_pass: dict[str, str] = {}
    for e in events:
        if not e.member_id and e.credential_id and e.credential_id not in via_pass:
            found = uow.repo(m.ApplePass).find(e.credential_id)
            if found is not None:
                via_pass[e.credential_id] = found.member_id
                member_ids.add(found.member_id)
    names = {}
    for member_id in member_ids:
        member = uow.repo(m.Member).find(member_id)
        if member is not None:
            names[member_id] = member.display_name
    for credential_id, member_id in via_pass.items():
        if member_id in names:
            names[credential_id] = names[member_id]
    return names
