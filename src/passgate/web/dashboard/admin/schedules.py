"""Dashboard administration of access schedules: weekly windows and holidays (days on
which the schedule is closed all day), create, edit, delete."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from passgate.domain import model as m
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.directory import catalog
from passgate.web.api import schemas as s
from passgate.web.dashboard.admin.forms import (
    Csrf,
    Invalid,
    can_write,
    check,
    save,
)
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
BLANK_ROWS = 3
Rows = Annotated[list[str], Form(max_length=100)]
LABELS = {"name": "Name", "windows": "Opening hours", "holidays": "Holidays"}


def windows_of(weekday: list[str], start: list[str], end: list[str]) -> list[dict[str, Any]]:
    """The form's rows as the API's windows; a row with neither time is left out."""
    if not len(weekday) == len(start) == len(end):
        raise Invalid({"windows": "Opening hours: each row needs a day, a start and an end"})
    out: list[dict[str, Any]] = []
    for i, (day, a, b) in enumerate(zip(weekday, start, end, strict=True)):
        if not a.strip() and not b.strip():
            continue
        if not day.isdigit():
            raise Invalid({f"windows[{i}].weekday": f"Row {i + 1}: choose a day"})
        out.append({"weekday": int(day), "start": a.strip(), "end": b.strip()})
    return out


def _rows(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [{"weekday": str(w["weekday"]), "start": w["start"], "end": w["end"]} for w in windows]
    return rows + [{"weekday": "0", "start": "", "end": ""}] * BLANK_ROWS


def _users(c: Container, who: Actor, schedule_id: str) -> dict[str, Any]:
    return {
        "doors": c.directory.rows(who, catalog.DOOR, schedule_id=schedule_id),
        "groups": c.directory.rows(who, catalog.GROUP, schedule_id=schedule_id),
    }


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard/schedules", include_in_schema=False)

    def list_view(
        request: Request,
        c: Container,
        who: Actor,
        *,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        org = c.organizations.record(who)
        schedules = sorted(c.directory.rows(who, catalog.SCHEDULE), key=lambda x: x.name.lower())
        return render(
            request,
            "admin/schedules.html",
            status_code=status_code,
            title="Schedules",
            section="Schedules",
            org=org,
            schedules=schedules,
            weekdays=WEEKDAYS,
            errors=errors or {},
            form=form or {"name": "", "rows": _rows([])},
            can_write=can_write(who),
        )

    @r.get("", response_class=HTMLResponse)
    def schedule_list(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        return list_view(request, c, who)

    @r.post("")
    def schedule_create(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Annotated[str, Form(max_length=200)] = "",
        weekday: Rows = [],  # noqa: B006 - FastAPI copies defaults per request
        start: Rows = [],  # noqa: B006
        end: Rows = [],  # noqa: B006
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        rows = [
            {"weekday": d, "start": a, "end": b}
            for d, a, b in zip(weekday, start, end, strict=False)
        ]

        def create() -> m.AccessSchedule:
            body = check(
                s.ScheduleCreate,
                {"name": name, "windows": windows_of(weekday, start, end), "holidays": []},
                LABELS,
            )
            values = body.model_dump()
            values["holidays"] = []
            return c.directory.create(who, catalog.SCHEDULE, values).one

        return save(
            create,
            lambda x: (f"/dashboard/schedules/{x.id}", f"Created schedule {x.name}."),
            refused=lambda errors: list_view(
                request, c, who, errors=errors, form={"name": name, "rows": rows}, status_code=422
            ),
        )

    def schedule_view(
        request: Request,
        c: Container,
        who: Actor,
        schedule_id: str,
        *,
        confirm: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        org = c.organizations.record(who)
        schedule = c.directory.get(who, catalog.SCHEDULE, schedule_id).one
        return render(
            request,
            "admin/schedule.html",
            status_code=status_code,
            title=f"Schedule {schedule.name}",
            section="Schedules",
            org=org,
            schedule=schedule,
            weekdays=WEEKDAYS,
            errors=errors or {},
            form=form or {"name": schedule.name, "rows": _rows(schedule.windows)},
            confirm=confirm,
            can_write=can_write(who),
            **_users(c, who, schedule_id),
        )

    @r.get("/{schedule_id}", response_class=HTMLResponse)
    def schedule_page(
        schedule_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Annotated[str | None, Query(pattern="^delete$")] = None,
    ) -> Response:
        return schedule_view(request, c, who, schedule_id, confirm=confirm)

    @r.post("/{schedule_id}")
    def schedule_update(
        schedule_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Annotated[str, Form(max_length=200)] = "",
        weekday: Rows = [],  # noqa: B006
        start: Rows = [],  # noqa: B006
        end: Rows = [],  # noqa: B006
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        rows = [
            {"weekday": d, "start": a, "end": b}
            for d, a, b in zip(weekday, start, end, strict=False)
        ]

        def update() -> m.AccessSchedule:
            body = check(
                s.ScheduleUpdate,
                {"name": name, "windows": windows_of(weekday, start, end)},
                LABELS,
            )
            changes = body.model_dump(exclude={"holidays"})
            return c.directory.update(who, catalog.SCHEDULE, schedule_id, changes).one

        return save(
            update,
            lambda x: (f"/dashboard/schedules/{schedule_id}", f"Saved schedule {x.name}."),
            refused=lambda errors: schedule_view(
                request,
                c,
                who,
                schedule_id,
                errors=errors,
                form={"name": name, "rows": rows},
                status_code=422,
            ),
        )

    @r.post("/{schedule_id}/holidays")
    def schedule_add_holiday(
        schedule_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        day: Annotated[str, Form(max_length=20)] = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)

        def add() -> str:
            try:
                parsed = date.fromisoformat(day.strip()).isoformat()
            except ValueError as exc:
                raise Invalid({"day": "Holiday must be a date like 2026-12-25"}) from exc
            check(s.ScheduleUpdate, {"holidays": [parsed]}, LABELS)
            c.directory.change_holidays(who, schedule_id, lambda days: days | {parsed})
            return parsed

        return save(
            add,
            lambda parsed: (f"/dashboard/schedules/{schedule_id}", f"Added holiday {parsed}."),
            refused=lambda errors: schedule_view(
                request, c, who, schedule_id, errors=errors, status_code=422
            ),
        )

    @r.post("/{schedule_id}/holidays/remove")
    def schedule_remove_holiday(
        schedule_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        day: Annotated[str, Form(max_length=20)] = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            lambda: c.directory.change_holidays(who, schedule_id, lambda days: days - {day}),
            lambda _x: (f"/dashboard/schedules/{schedule_id}", f"Removed holiday {day}."),
        )

    @r.post("/{schedule_id}/delete")
    def schedule_delete(
        schedule_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            lambda: c.directory.delete(who, catalog.SCHEDULE, schedule_id),
            lambda x: ("/dashboard/schedules", f"Deleted schedule {x.name}."),
            refused=lambda errors: schedule_view(
                request, c, who, schedule_id, errors=errors, status_code=409
            ),
        )

    return r
