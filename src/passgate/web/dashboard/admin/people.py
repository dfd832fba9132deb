"""Dashboard administration of people: a page per person with their access (which
doors, when), their Apple Pass and app credentials, and their taps; edit, deactivate,
reactivate and delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from passgate.domain import model as m
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.directory import catalog
from passgate.web.api import schemas as s
from passgate.web.dashboard.admin.forms import (
    REFUSALS,
    Csrf,
    can_write,
    check,
    done,
    errors_of,
    local_time,
    save,
)
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

ROLE_NAMES = {
    "member": "Member",
    "admin": "Admin",
    "owner": "Owner",
    "read_only": "Read only (auditor)",
}
LABELS = {"display_name": "Name", "email": "E-mail", "role": "Role", "group_id": "Group"}
TAPS = 50


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard/people", include_in_schema=False)

    def person_view(
        request: Request,
        c: Container,
        who: Actor,
        member_id: str,
        *,
        confirm: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        org = c.organizations.record(who)
        file = c.directory.member_file(who, member_id, taps=TAPS)
        member = file.member
        groups = {g.id: g for g in c.directory.rows(who, catalog.GROUP)}
        all_doors = c.directory.rows(who, catalog.DOOR)
        door_names = {d.id: d.name for d in all_doors}
        schedules = {x.id: x.name for x in c.directory.rows(who, catalog.SCHEDULE)}
        by_group = c.directory.doors_by_group(who)
        # A door with its own schedule opens only then, whatever the group's says.
        door_labels = {
            d.id: f"{d.name} ({schedules[d.schedule_id]})" if d.schedule_id else d.name
            for d in all_doors
        }
        access = [
            {
                "right": a,
                "group": groups[a.group_id],
                "doors": sorted(door_labels[d] for d in by_group.get(a.group_id, [])),
                "schedule": schedules.get(groups[a.group_id].schedule_id or ""),
            }
            for a in file.access_rights
        ]
        passes, credentials = file.apple_passes, file.app_credentials
        taps, total = file.taps, file.tap_total
        return render(
            request,
            "admin/person.html",
            status_code=status_code,
            title=member.display_name,
            section="People",
            org=org,
            member=member,
            access=sorted(access, key=lambda row: row["group"].name.lower()),
            groups=sorted(groups.values(), key=lambda g: g.name.lower()),
            passes=passes,
            credentials=credentials,
            taps=taps,
            tap_total=total,
            door_names=door_names,
            role_names=ROLE_NAMES,
            roles=list(ROLE_NAMES.items()),
            errors=errors or {},
            form=form
            or {"display_name": member.display_name, "email": member.email, "role": member.role},
            confirm=confirm,
            can_write=can_write(who),
        )

    @r.get("/{member_id}", response_class=HTMLResponse)
    def person_page(
        member_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Annotated[str | None, Query(pattern="^(deactivate|delete)$")] = None,
    ) -> Response:
        return person_view(request, c, who, member_id, confirm=confirm)

    @r.post("/{member_id}")
    def person_update(
        member_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        display_name: Annotated[str, Form(max_length=200)] = "",
        email: Annotated[str, Form(max_length=320)] = "",
        role: Annotated[str, Form(max_length=20)] = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {"display_name": display_name, "email": email, "role": role}

        def update() -> m.Member:
            body = check(s.MemberUpdate, form, LABELS)
            changes = body.model_dump(exclude_unset=True, exclude={"status", "external_id"})
            return c.directory.update(who, catalog.MEMBER, member_id, changes).one

        return save(
            update,
            lambda member: (f"/dashboard/people/{member_id}", f"Saved {member.display_name}."),
            refused=lambda errors: person_view(
                request, c, who, member_id, errors=errors, form=form, status_code=422
            ),
        )

    @r.post("/{member_id}/status")
    def person_status(
        member_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        status: Annotated[str, Form(pattern="^(active|deactivated)$")],
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        verb = "Reactivated" if status == "active" else "Deactivated"
        change = {"status": status}
        return save(
            lambda: c.directory.update(who, catalog.MEMBER, member_id, change).one,
            lambda member: (f"/dashboard/people/{member_id}", f"{verb} {member.display_name}."),
        )

    @r.post("/{member_id}/delete")
    def person_delete(
        member_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        try:
            member = c.directory.delete(who, catalog.MEMBER, member_id)
        except REFUSALS as exc:
            return person_view(request, c, who, member_id, errors=errors_of(exc), status_code=409)
        return done(f"/dashboard/people/{member_id}", f"Deleted {member.display_name}.")

    @r.post("/{member_id}/access")
    def person_add_access(
        member_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        group_id: Annotated[str, Form(max_length=40)] = "",
        valid_from: Annotated[str, Form(max_length=30)] = "",
        valid_until: Annotated[str, Form(max_length=30)] = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)

        def give() -> m.AccessRight:
            body = check(
                s.AccessRightCreate,
                {
                    "member_id": member_id,
                    "group_id": group_id,
                    "valid_from": local_time(valid_from, "valid_from", "From"),
                    "valid_until": local_time(valid_until, "valid_until", "Until"),
                },
                LABELS,
            )
            return c.directory.create(who, catalog.ACCESS_RIGHT, body.model_dump()).one

        return save(
            give,
            lambda _right: (f"/dashboard/people/{member_id}", "Access given."),
            refused=lambda errors: person_view(
                request, c, who, member_id, errors=errors, status_code=422
            ),
        )

    return r
