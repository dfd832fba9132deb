"""Dashboard: the events page (investigations), its CSV export and its charts.

Filters (person, door, reader, result, reason, type, time range) go to the same SQL
query as ``GET /api/v1/events``; pages follow its keyset cursor, so the page stays
fast at any depth and stable while taps arrive. The export streams the whole filtered
range as CSV in chunks, each read in its own short transaction. Charts are SVG drawn on
the server (web/dashboard/charts.py) and loaded as images, so the table never waits.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from passgate.domain import model as m
from passgate.domain.access import Reason
from passgate.services.container import Container
from passgate.services.events import EVENT_LIST, EventFilter
from passgate.services.paging import Position, decode_cursor, encode_cursor
from passgate.services.ports import UnitOfWork
from passgate.web.dashboard import charts
from passgate.web.dashboard.auth import DashboardActor
from passgate.web.dashboard.pages import render
from passgate.web.dashboard.views import _local_time
from passgate.web.deps import ContainerDep

PAGE = 50
EXPORT_CHUNK = 1000
CHART_DAYS = 7  # charts cover the filtered range, or the last week when it has no start
REASONS = [r.value for r in Reason if r is not Reason.GRANTED]
_BUCKETS = (300, 900, 3600, 3 * 3600, 6 * 3600, 86400)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


@dataclasses.dataclass(frozen=True)
class Form:
    """The filter form as typed (echoed back into the page and its links)."""

    type: str = ""
    result: str = ""
    reason: str = ""
    door_id: str = ""
    reader_id: str = ""
    member_id: str = ""
    person: str = ""
    since: str = ""
    until: str = ""

    def query(self, **extra: str) -> str:
        params = {k: v for k, v in dataclasses.asdict(self).items() if v}
        return urlencode({**params, **extra})


def form(
    type: Annotated[str, Query(max_length=60)] = "",
    result: Annotated[Literal["", "granted", "denied"], Query()] = "",
    reason: Annotated[str, Query(max_length=40)] = "",
    door_id: Annotated[str, Query(max_length=40)] = "",
    reader_id: Annotated[str, Query(max_length=40)] = "",
    member_id: Annotated[str, Query(max_length=40)] = "",
    person: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(max_length=30)] = "",
    until: Annotated[str, Query(max_length=30)] = "",
) -> Form:
    return Form(
        type=type.strip(),
        result=result,
        reason=reason.strip(),
        door_id=door_id,
        reader_id=reader_id,
        member_id=member_id,
        person=person.strip(),
        since=since,
        until=until,
    )


FormDep = Annotated[Form, Depends(form)]


@dataclasses.dataclass(frozen=True)
class Resolved:
    query: EventFilter
    person: m.Member | None  # the one member the person filter names
    note: str | None  # why the person filter matched nobody (then nothing is listed)


def _time(value: str, field: str) -> datetime | None:
    return _local_time(value or None, field)


def resolve(uow: UnitOfWork, f: Form) -> Resolved:
    """The SQL filter a form asks for; a person is a name or email fragment naming one
    member (ValidationError names the field of a bad time)."""
    member_id = f.member_id or None
    person, note = None, None
    if f.person:
        found, total = uow.repo(m.Member).list(
            search=(("display_name", "email"), f.person), limit=2
        )
        if total == 1:
            person = found[0]
            member_id = person.id
        else:
            note = (
                f"No person matches “{f.person}”."
                if total == 0
                else f"{total} people match “{f.person}”: type more of the name or the email."
            )
            member_id = "-"  # no member has this id: the list stays empty
    elif member_id:
        person = uow.repo(m.Member).find(member_id)
    query = EventFilter(
        type=f.type or None,
        granted={"granted": True, "denied": False}.get(f.result),
        reason=f.reason or None,
        door_id=f.door_id or None,
        reader_id=f.reader_id or None,
        member_id=member_id,
        since=_time(f.since, "since"),
        until=_time(f.until, "until"),
    )
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


def _who(e: m.Event, names: dict[str, str]) -> dict[str, Any]:
    """Who the event is about: the member for a tap, the actor for an audit record."""
    if e.category == m.EventCategory.ACCESS:
        key = e.member_id or e.credential_id
        name = names.get(key or "")
        if name:
            return {"name": name, "member_id": e.member_id, "note": None}
        return {"name": None, "member_id": None, "note": "unknown credential"}
    actor = e.actor_name or (e.actor_type or "")
    return {"name": actor, "member_id": None, "note": e.object_type}


def _rows(uow: UnitOfWork, events: list[m.Event]) -> list[dict[str, Any]]:
    names = _names(uow, events)
    return [{"e": e, "who": _who(e, names)} for e in events]


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _export(c: Container, org_id: str, f: Form) -> Iterator[str]:
    columns = [
        "occurred_at",
        "type",
        "result",
        "reason",
        "door",
        "reader",
        "person",
        "member_id",
        "actor",
        "object_type",
        "object_id",
        "event_id",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    after: Position | None = None
    with c.uow_factory(org_id, write=False) as uow:
        resolved = resolve(uow, f)
        doors = {d.id: d.name for d in uow.repo(m.Door).all_where()}
        readers = {r.id: r.name for r in uow.repo(m.Reader).all_where()}
    while True:
        with c.uow_factory(org_id, write=False) as uow:
            page = uow.events.page(resolved.query, limit=EXPORT_CHUNK, after=after)
            names = _names(uow, page.items)
        for e in page.items:
            result = "" if e.granted is None else ("granted" if e.granted else "denied")
            who = _who(e, names)
            writer.writerow(
                [
                    _csv_cell(x)
                    for x in (
                        e.occurred_at.isoformat(),
                        e.type,
                        result,
                        e.reason,
                        doors.get(e.door_id or "", e.door_id),
                        readers.get(e.reader_id or "", e.reader_id),
                        who["name"] if e.category == m.EventCategory.ACCESS else "",
                        e.member_id,
                        e.actor_name or e.actor_type,
                        e.object_type,
                        e.object_id,
                        e.id,
                    )
                ]
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if page.next is None:
            return
        after = page.next


def _bucket(span_s: float) -> int:
    for size in _BUCKETS:
        if span_s / size <= 60:
            return size
    return _BUCKETS[-1]


def _chart(c: Container, org_id: str, f: Form, kind: str) -> str:
    with c.uow_factory(org_id, write=False) as uow:
        q = resolve(uow, f).query
        until = q.until or c.clock.now()
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
            buckets = [(k, v[0], v[1]) for k, v in sorted(series.items())]
            return charts.timeline("Taps over time", buckets, size)
        if kind == "reasons":
            if q.granted is True:
                return charts.bars("Denials by reason", [])
            rows = uow.events.counts(dataclasses.replace(q, granted=False), "reason")
            labels = [(str(k).replace("_", " "), n) for k, n in rows]
            return charts.bars("Denials by reason", labels, color="#b8403a")
        doors = {d.id: d.name for d in uow.repo(m.Door).all_where()}
        rows = uow.events.counts(q, "door_id")
        return charts.bars(
            "Taps per door",
            [(doors.get(str(k), "no door") if k else "no door", n) for k, n in rows],
        )


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard", include_in_schema=False)

    @r.get("/events", response_class=HTMLResponse)
    def event_log(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        f: FormDep,
        partial: bool = False,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        org_id = who.require_org()
        after = decode_cursor(EVENT_LIST, cursor) if cursor else None
        with c.uow_factory(org_id, write=False) as uow:
            org = uow.organizations.get(org_id)
            resolved = resolve(uow, f)
            page = uow.events.page(resolved.query, limit=PAGE, after=after)
            rows = _rows(uow, page.items)
            doors = uow.repo(m.Door).all_where()
            readers = uow.repo(m.Reader).all_where()
        context: dict[str, Any] = {
            "rows": rows,
            "door_names": {d.id: d.name for d in doors},
            "reader_names": {x.id: x.name for x in readers},
            "f": f,
        }
        if partial:
            return render(request, "_event_rows.html", title="Events", org=org, **context)
        older = (
            "/dashboard/events?" + f.query(cursor=encode_cursor(EVENT_LIST, page.next))
            if page.next is not None
            else None
        )
        return render(
            request,
            "events.html",
            title="Events",
            section="Events",
            org=org,
            doors=sorted(doors, key=lambda d: d.name.lower()),
            readers=sorted(readers, key=lambda x: x.name.lower()),
            reasons=REASONS,
            person=resolved.person,
            note=resolved.note,
            total=page.total,
            paged=cursor is not None,
            older=older,
            filter_query=f.query(),
            **context,
        )

    @r.get("/events.csv")
    def event_export(c: ContainerDep, who: DashboardActor, f: FormDep) -> Response:
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            resolve(uow, f)  # a bad filter is a clear error before the download starts
            slug = uow.organizations.get(org_id).slug
        stamp = c.clock.now().strftime("%Y%m%d-%H%M%S")
        return StreamingResponse(
            _export(c, org_id, f),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="events-{slug}-{stamp}.csv"',
                "Cache-Control": "no-store",
            },
        )

    @r.get("/events/chart.svg")
    def event_chart(
        c: ContainerDep,
        who: DashboardActor,
        f: FormDep,
        chart: Literal["time", "reasons", "doors"] = "time",
    ) -> Response:
        svg = _chart(c, who.require_org(), f, chart)
        return Response(
            svg,
            media_type="image/svg+xml",
            headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'"},
        )

    return r
