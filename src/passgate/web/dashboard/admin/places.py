"""Dashboard administration of places and doors: create, edit, delete, lockdown of a
door or of every door of a place, and each door's staleness limit (R16)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passgate.domain import model as m
from passgate.domain.readiness import READER_MODEL_NAMES, READINESS_MESSAGES
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.directory import catalog
from passgate.services.readers.door_commands import OPEN_STATES
from passgate.web.api import schemas as s
from passgate.web.dashboard.admin.forms import (
    REFUSALS,
    Csrf,
    Invalid,
    blank,
    can_write,
    check,
    errors_of,
    save,
)
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

Text = Annotated[str, Form(max_length=500)]
Confirm = Annotated[str | None, Query(pattern="^(delete|unlock)$")]
CommandId = Annotated[str | None, Query(max_length=40)]
# What the door page says of a remote unlock command's reason.
UNLOCK_MESSAGES = {
    "granted": "The lock opened.",
    "door_lockdown": "The reader refused: its door is locked down.",
    "reader_tampered": "The reader refused: it is tampered.",
    "cache_stale": "The reader refused: its copy of the door's settings is out of date.",
    "wrong_door": "The reader refused: it is mounted on another door now.",
    "expired": "The command reached the reader too late.",
    "relay_fault": "The reader's lock relay failed: the door stayed locked.",
    "not_delivered": "The reader did not connect in time: nothing happened.",
    "no_answer": "The reader did not answer: check the door.",
}
PLACE_LABELS = {"name": "Name", "timezone": "Time zone", "address": "Address"}
DOOR_LABELS = {
    "name": "Name",
    "place_id": "Place",
    "timezone": "Time zone",
    "schedule_id": "Schedule",
    "staleness_limit_s": "Offline limit",
}


def staleness_seconds(hours: str) -> int:
    """The form gives hours (decimals allowed); the door stores seconds."""
    try:
        value = float(hours.strip())
    except ValueError as exc:
        raise Invalid(
            {"staleness_limit_s": "Offline limit must be a number of hours, e.g. 36"}
        ) from exc
    if not 1 / 60 <= value <= 30 * 24:
        raise Invalid(
            {"staleness_limit_s": "Offline limit must be between 1 minute and 720 hours (30 days)"}
        )
    return round(value * 3600)


def _place_context(c: Container, who: Actor, place_id: str) -> dict[str, Any]:
    place = c.directory.get(who, catalog.PLACE, place_id).one
    place_doors = c.directory.rows(who, catalog.DOOR, place_id=place_id)
    return {
        "org": c.organizations.record(who),
        "place": place,
        "doors": sorted(place_doors, key=lambda d: d.name.lower()),
    }


def _door_choices(c: Container, who: Actor) -> dict[str, Any]:
    return {
        "org": c.organizations.record(who),
        "places": sorted(c.directory.rows(who, catalog.PLACE), key=lambda p: p.name.lower()),
        "schedules": sorted(c.directory.rows(who, catalog.SCHEDULE), key=lambda x: x.name.lower()),
    }


def _door_context(c: Container, who: Actor, door_id: str) -> dict[str, Any]:
    context = _door_choices(c, who)
    found = c.directory.get(who, catalog.DOOR, door_id)
    by_group = c.directory.doors_by_group(who)
    groups = [g for g in c.directory.rows(who, catalog.GROUP) if door_id in by_group.get(g.id, [])]
    readers = c.directory.rows(who, catalog.READER, door_id=door_id)
    context.update(
        door=found.one,
        readers=sorted(readers, key=lambda x: x.name),
        groups=sorted(groups, key=lambda g: g.name.lower()),
        readiness=found.readiness[door_id],
    )
    return context


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard", include_in_schema=False)

    # --- places ---
    def place_list_page(
        request: Request,
        c: Container,
        who: Actor,
        *,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        places = sorted(c.directory.rows(who, catalog.PLACE), key=lambda p: p.name.lower())
        all_doors = c.directory.rows(who, catalog.DOOR)
        org = c.organizations.record(who)
        rows = [
            {
                "place": p,
                "doors": [d for d in all_doors if d.place_id == p.id],
                "locked": sum(d.lockdown for d in all_doors if d.place_id == p.id),
            }
            for p in places
        ]
        return render(
            request,
            "admin/places.html",
            status_code=status_code,
            title="Places",
            section="Places",
            org=org,
            rows=rows,
            errors=errors or {},
            form=form or {"timezone": "UTC"},
            can_write=can_write(who),
        )

    @r.get("/places", response_class=HTMLResponse)
    def place_list(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        return place_list_page(request, c, who)

    @r.post("/places")
    def place_create(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        timezone: Text = "",
        address: Text = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {"name": name, "timezone": timezone, "address": address}

        def create() -> m.Place:
            body = check(
                s.PlaceCreate,
                {"name": name, "timezone": blank(timezone) or "UTC", "address": blank(address)},
                PLACE_LABELS,
            )
            return c.directory.create(who, catalog.PLACE, body.model_dump()).one

        return save(
            create,
            lambda place: (f"/dashboard/places/{place.id}", f"Created place {place.name}."),
            refused=lambda errors: place_list_page(
                request, c, who, errors=errors, form=form, status_code=422
            ),
        )

    def place_page_view(
        request: Request,
        c: Container,
        who: Actor,
        place_id: str,
        *,
        confirm: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        context = _place_context(c, who, place_id)
        place = context["place"]
        return render(
            request,
            "admin/place.html",
            status_code=status_code,
            title=f"Place {place.name}",
            section="Places",
            errors=errors or {},
            form=form or {"name": place.name, "timezone": place.timezone, "address": place.address},
            confirm=confirm,
            can_write=can_write(who),
            **context,
        )

    @r.get("/places/{place_id}", response_class=HTMLResponse)
    def place_page(
        place_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Confirm = None,
    ) -> Response:
        return place_page_view(request, c, who, place_id, confirm=confirm)

    @r.post("/places/{place_id}")
    def place_update(
        place_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        timezone: Text = "",
        address: Text = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {"name": name, "timezone": timezone, "address": address}

        def update() -> m.Place:
            body = check(
                s.PlaceUpdate,
                {"name": name, "timezone": timezone, "address": blank(address)},
                PLACE_LABELS,
            )
            return c.directory.update(who, catalog.PLACE, place_id, body.model_dump()).one

        return save(
            update,
            lambda place: (f"/dashboard/places/{place_id}", f"Saved place {place.name}."),
            refused=lambda errors: place_page_view(
                request, c, who, place_id, errors=errors, form=form, status_code=422
            ),
        )

    @r.post("/places/{place_id}/lockdown")
    def place_lockdown(
        place_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        lockdown: Annotated[str, Form(pattern="^(on|off)$")],
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        on = lockdown == "on"
        verb = "Locked down" if on else "Released"
        return save(
            lambda: c.directory.set_place_lockdown(who, place_id, on),
            lambda changed: (f"/dashboard/places/{place_id}", f"{verb} {len(changed)} door(s)."),
        )

    @r.post("/places/{place_id}/delete")
    def place_delete(
        place_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            lambda: c.directory.delete(who, catalog.PLACE, place_id),
            lambda place: ("/dashboard/places", f"Deleted place {place.name}."),
            refused=lambda errors: place_page_view(
                request, c, who, place_id, errors=errors, status_code=409
            ),
        )

    # --- doors ---
    def door_new_page(
        request: Request,
        c: Container,
        who: Actor,
        *,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
        place_id: str | None = None,
    ) -> Response:
        context = _door_choices(c, who)
        return render(
            request,
            "admin/door_new.html",
            status_code=status_code,
            title="New door",
            section="Doors",
            errors=errors or {},
            form=form or {"place_id": place_id or "", "staleness_h": "36"},
            can_write=can_write(who),
            **context,
        )

    @r.get("/doors/new", response_class=HTMLResponse)
    def door_new(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        place_id: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        return door_new_page(request, c, who, place_id=place_id)

    @r.post("/doors")
    def door_create(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        place_id: Text = "",
        timezone: Text = "",
        schedule_id: Text = "",
        staleness_h: Text = "36",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {
            "name": name,
            "place_id": place_id,
            "timezone": timezone,
            "schedule_id": schedule_id,
            "staleness_h": staleness_h,
        }

        def create() -> m.Door:
            if not place_id:
                raise Invalid({"place_id": "Place is required: create a place first"})
            body = check(
                s.DoorCreate,
                {
                    "name": name,
                    "place_id": place_id,
                    "timezone": blank(timezone),
                    "schedule_id": blank(schedule_id),
                    "staleness_limit_s": staleness_seconds(staleness_h),
                },
                DOOR_LABELS,
            )
            return c.directory.create(who, catalog.DOOR, body.model_dump()).one

        return save(
            create,
            lambda door: (f"/dashboard/doors/{door.id}", f"Created door {door.name}."),
            refused=lambda errors: door_new_page(
                request, c, who, errors=errors, form=form, status_code=422
            ),
        )

    def door_page_view(
        request: Request,
        c: Container,
        who: Actor,
        door_id: str,
        *,
        confirm: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
        command_id: str | None = None,
    ) -> Response:
        context = _door_context(c, who, door_id)
        door: m.Door = context["door"]
        command = c.door_commands.get(who, command_id) if command_id else None
        if command is not None and command.door_id != door_id:
            command = None
        return render(
            request,
            "admin/door.html",
            status_code=status_code,
            title=f"Door {door.name}",
            section="Doors",
            errors=errors or {},
            form=form
            or {
                "name": door.name,
                "place_id": door.place_id,
                "timezone": door.timezone,
                "schedule_id": door.schedule_id or "",
                "staleness_h": f"{door.staleness_limit_s / 3600:g}",
            },
            confirm=confirm,
            messages=READINESS_MESSAGES,
            model_names=READER_MODEL_NAMES,
            command=command,
            command_open=command is not None and command.state in OPEN_STATES,
            unlock_messages=UNLOCK_MESSAGES,
            can_write=can_write(who),
            **context,
        )

    @r.get("/doors/{door_id}", response_class=HTMLResponse)
    def door_page(
        door_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Confirm = None,
        command: CommandId = None,
    ) -> Response:
        return door_page_view(request, c, who, door_id, confirm=confirm, command_id=command)

    @r.post("/doors/{door_id}")
    def door_update(
        door_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        place_id: Text = "",
        timezone: Text = "",
        schedule_id: Text = "",
        staleness_h: Text = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {
            "name": name,
            "place_id": place_id,
            "timezone": timezone,
            "schedule_id": schedule_id,
            "staleness_h": staleness_h,
        }

        def update() -> m.Door:
            body = check(
                s.DoorUpdate,
                {
                    "name": name,
                    "place_id": place_id,
                    "timezone": timezone,
                    "schedule_id": blank(schedule_id),
                    "staleness_limit_s": staleness_seconds(staleness_h),
                },
                DOOR_LABELS,
            )
            changes = body.model_dump()
            changes.pop("lockdown")  # its own button below, never changed by this form
            return c.directory.update(who, catalog.DOOR, door_id, changes).one

        return save(
            update,
            lambda door: (f"/dashboard/doors/{door_id}", f"Saved door {door.name}."),
            refused=lambda errors: door_page_view(
                request, c, who, door_id, errors=errors, form=form, status_code=422
            ),
        )

    @r.post("/doors/{door_id}/lockdown")
    def door_lockdown(
        door_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        lockdown: Annotated[str, Form(pattern="^(on|off)$")],
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        on = lockdown == "on"
        verb = "is locked down: every tap is denied" if on else "is released from lockdown"
        return save(
            lambda: c.directory.update(who, catalog.DOOR, door_id, {"lockdown": on}).one,
            lambda door: (f"/dashboard/doors/{door_id}", f"{door.name} {verb}."),
        )

    @r.post("/doors/{door_id}/unlock")
    def door_unlock(
        door_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        try:
            command = c.door_commands.request_unlock(who, door_id)
        except REFUSALS as exc:
            return door_page_view(request, c, who, door_id, errors=errors_of(exc), status_code=409)
        return RedirectResponse(
            f"/dashboard/doors/{door_id}?command={quote(command.id)}", status_code=303
        )

    @r.post("/doors/{door_id}/delete")
    def door_delete(
        door_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            lambda: c.directory.delete(who, catalog.DOOR, door_id),
            lambda door: ("/dashboard/doors", f"Deleted door {door.name}."),
            refused=lambda errors: door_page_view(
                request, c, who, door_id, errors=errors, status_code=409
            ),
        )

    return r


__all__ = ["router", "staleness_seconds"]
