"""Dashboard administration of groups and access rights: a group's name, schedule and
doors, who is in it (access rights with validity windows: add, edit, remove), delete."""

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
        org = c.organizations.record(who)
        group = c.directory.get(who, catalog.GROUP, group_id).one
        door_ids = c.directory.group_doors(who, group_id)
        all_doors = sorted(c.directory.rows(who, catalog.DOOR), key=lambda d: d.name.lower())
        members = {x.id: x for x in c.directory.rows(who, catalog.MEMBER)}
        rights = c.directory.rows(who, catalog.ACCESS_RIGHT, group_id=group_id)
        schedules = sorted(c.directory.rows(who, catalog.SCHEDULE), key=lambda x: x.name.lower())
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

        def update() -> m.Group:
            body = check(
                s.GroupUpdate,
                {
                    "name": name,
                    "description": blank(description),
                    "schedule_id": blank(schedule_id),
                },
                LABELS,
            )
            return c.directory.update_group(who, group_id, body.model_dump(), door_ids or [])

        return save(
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
            lambda: c.directory.delete(who, catalog.GROUP, group_id),
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

        def give() -> m.AccessRight:
            body = check(
                s.AccessRightCreate,
                {"member_id": member_id, "group_id": group_id, **window(valid_from, valid_until)},
                LABELS,
            )
            return c.directory.create(who, catalog.ACCESS_RIGHT, body.model_dump()).one

        return save(
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
        right = c.directory.get(who, catalog.ACCESS_RIGHT, access_right_id).one
        target = back_to(back, f"/dashboard/groups/{right.group_id}")

        def update() -> m.AccessRight:
            body = check(s.AccessRightUpdate, window(valid_from, valid_until), LABELS)
            changes = body.model_dump()
            return c.directory.update(who, catalog.ACCESS_RIGHT, access_right_id, changes).one

        return save(
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
            lambda: c.directory.delete(who, catalog.ACCESS_RIGHT, access_right_id),
            lambda right: (back_to(back, f"/dashboard/groups/{right.group_id}"), "Access removed."),
        )

    return r
