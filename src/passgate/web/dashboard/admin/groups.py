"""Dashboard administration of groups and access rights: a group's name, schedule and
doors, who is in it (access rights with validity windows: add, edit, remove), delete."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from passgate.domain import model as m
from passgate.services import resources
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.directory import catalog, doors
from passgate.services.ports import UnitOfWork
from passgate.web.api import schemas as s
from passgate.web.dashboard.admin.forms import (
    Csrf,
    back_to,
    blank,
    can_write,
    check,
    local_time,
    save,
)
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

Text = Annotated[str, Form(max_length=1000)]
When = Annotated[str, Form(max_length=30)]
Back = Annotated[str | None, Form(max_length=100)]
LABELS = {
    "name": "Name",
    "description": "Description",
    "schedule_id": "Schedule",
    "valid_from": "From",
    "valid_until": "Until",
    "member_id": "Person",
}


def window(valid_from: str, valid_until: str) -> dict[str, Any]:
    return {
        "valid_from": local_time(valid_from, "valid_from", "From"),
        "valid_until": local_time(valid_until, "valid_until", "Until"),
    }


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard", include_in_schema=False)

    def group_view(
        request: Request,
        c: Container,
        who: Actor,
        group_id: str,
        *,
        confirm: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            org = uow.organizations.get(org_id)
            group = uow.repo(m.Group).get(group_id)
            door_ids = uow.group_doors.doors_of(group_id)
            all_doors = sorted(uow.repo(m.Door).all_where(), key=lambda d: d.name.lower())
            members = {x.id: x for x in uow.repo(m.Member).all_where()}
            rights = uow.repo(m.AccessRight).all_where(group_id=group_id)
            schedules = sorted(uow.repo(m.AccessSchedule).all_where(), key=lambda x: x.name.lower())
        rows = [
            {"right": a, "member": members[a.member_id]}
            for a in sorted(rights, key=lambda a: members[a.member_id].display_name.lower())
        ]
        return render(
            request,
            "admin/group.html",
            status_code=status_code,
            title=f"Group {group.name}",
            section="Groups",
            org=org,
            group=group,
            doors=all_doors,
            door_ids=set(door_ids),
            rows=rows,
            people=sorted(members.values(), key=lambda x: x.display_name.lower()),
            schedules=schedules,
            errors=errors or {},
            form=form
            or {
                "name": group.name,
                "description": group.description or "",
                "schedule_id": group.schedule_id or "",
            },
            confirm=confirm,
            can_write=can_write(who),
        )

    @r.get("/groups/{group_id}", response_class=HTMLResponse)
    def group_page(
        group_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Annotated[str | None, Query(pattern="^delete$")] = None,
    ) -> Response:
        return group_view(request, c, who, group_id, confirm=confirm)

    @r.post("/groups/{group_id}")
    def group_update(
        group_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        description: Text = "",
        schedule_id: Text = "",
        door_ids: Annotated[list[str] | None, Form(max_length=1000)] = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {"name": name, "description": description, "schedule_id": schedule_id}

        def update(uow: UnitOfWork, now: datetime) -> m.Group:
            body = check(
                s.GroupUpdate,
                {
                    "name": name,
                    "description": blank(description),
                    "schedule_id": blank(schedule_id),
                },
                LABELS,
            )
            group = resources.update(uow, who, catalog.GROUP, group_id, body.model_dump(), now)
            doors.set_group_doors(uow, who, group_id, door_ids or [], now)
            return group

        return save(
            c,
            who,
            update,
            lambda group: (f"/dashboard/groups/{group_id}", f"Saved group {group.name}."),
            refused=lambda errors: group_view(
                request, c, who, group_id, errors=errors, form=form, status_code=422
            ),
        )

    @r.post("/groups/{group_id}/delete")
    def group_delete(
        group_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            c,
            who,
            lambda uow, now: resources.delete_returning(uow, who, catalog.GROUP, group_id, now),
            lambda group: ("/dashboard/groups", f"Deleted group {group.name}."),
        )

    @r.post("/groups/{group_id}/access")
    def group_add_access(
        group_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        member_id: Annotated[str, Form(max_length=40)] = "",
        valid_from: When = "",
        valid_until: When = "",
        back: Back = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        target = back_to(back, f"/dashboard/groups/{group_id}")

        def give(uow: UnitOfWork, now: datetime) -> m.AccessRight:
            body = check(
                s.AccessRightCreate,
                {"member_id": member_id, "group_id": group_id, **window(valid_from, valid_until)},
                LABELS,
            )
            return resources.create(uow, who, catalog.ACCESS_RIGHT, body.model_dump(), now)

        return save(
            c,
            who,
            give,
            lambda _right: (target, "Access given."),
            refused=lambda errors: group_view(
                request, c, who, group_id, errors=errors, status_code=422
            ),
        )

    @r.post("/access/{access_right_id}")
    def access_update(
        access_right_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        valid_from: When = "",
        valid_until: When = "",
        back: Back = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            right = uow.repo(m.AccessRight).get(access_right_id)
        target = back_to(back, f"/dashboard/groups/{right.group_id}")

        def update(uow: UnitOfWork, now: datetime) -> m.AccessRight:
            body = check(s.AccessRightUpdate, window(valid_from, valid_until), LABELS)
            changes = body.model_dump()
            return resources.update(uow, who, catalog.ACCESS_RIGHT, access_right_id, changes, now)

        return save(
            c,
            who,
            update,
            lambda _right: (target, "Access validity saved."),
            refused=lambda errors: group_view(
                request, c, who, right.group_id, errors=errors, status_code=422
            ),
        )

    @r.post("/access/{access_right_id}/delete")
    def access_delete(
        access_right_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        back: Back = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            c,
            who,
            lambda uow, now: resources.delete_returning(
                uow, who, catalog.ACCESS_RIGHT, access_right_id, now
            ),
            lambda right: (back_to(back, f"/dashboard/groups/{right.group_id}"), "Access removed."),
        )

    return r
