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
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from passgate.domain import model as m
from passgate.domain.access import Reason
from passgate.services.directory.event_log import Chart, Export, Search
from passgate.services.events import EVENT_LIST, EventFilter
from passgate.services.paging import decode_cursor, encode_cursor
from passgate.web.dashboard import charts
from passgate.web.dashboard.auth import DashboardActor
from passgate.web.dashboard.pages import render
from passgate.web.dashboard.views import _local_time
from passgate.web.deps import ContainerDep

PAGE = 50
EXPORT_CHUNK = 1000
REASONS = [r.value for r in Reason if r is not Reason.GRANTED]
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


def search(f: Form) -> Search:
    """The service's search for a form (ValidationError names the field of a bad time)."""
    query = EventFilter(
        type=f.type or None,
        granted={"granted": True, "denied": False}.get(f.result),
        reason=f.reason or None,
        door_id=f.door_id or None,
        reader_id=f.reader_id or None,
        member_id=f.member_id or None,
        since=_local_time(f.since or None, "since"),
        until=_local_time(f.until or None, "until"),
    )
    return Search(query=query, person=f.person or None)


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


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


COLUMNS = [
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


def _csv(export: Export) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for events, names in export.chunks:
        for e in events:
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
                        export.door_names.get(e.door_id or "", e.door_id),
                        export.reader_names.get(e.reader_id or "", e.reader_id),
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


def _svg(chart: Chart) -> str:
    if chart.kind == "time":
        return charts.timeline("Taps over time", chart.timeline, chart.bucket_s)
    if chart.kind == "reasons":
        return charts.bars("Denials by reason", chart.bars, color="#b8403a")
    return charts.bars("Taps per door", chart.bars)


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
        after = decode_cursor(EVENT_LIST, cursor) if cursor else None
        found = c.event_log.investigate(who, search(f), limit=PAGE, after=after)
        page, resolved, org = found.page, found.resolved, found.organization
        doors, readers = found.doors, found.readers
        rows = [{"e": e, "who": _who(e, found.names)} for e in page.items]
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
        export = c.event_log.export(who, search(f), chunk=EXPORT_CHUNK)
        slug = export.organization.slug
        stamp = c.clock.now().strftime("%Y%m%d-%H%M%S")
        return StreamingResponse(
            _csv(export),
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
        svg = _svg(c.event_log.chart(who, search(f), chart))
        return Response(
            svg,
            media_type="image/svg+xml",
            headers={"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'"},
        )

    return r
