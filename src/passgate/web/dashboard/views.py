"""Dashboard pages. Every read and every change goes through the service queries and
commands the REST API uses (same roles, same rules, same audit); each owns its
transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from passgate.domain import model as m
from passgate.domain.eligibility import ELIGIBILITY_MESSAGES
from passgate.domain.errors import NotFound, ValidationError
from passgate.domain.readiness import READER_MODEL_NAMES, READINESS_MESSAGES
from passgate.services.directory import catalog, me
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import SESSION_COOKIE, ContainerDep, cookie_name

STATIC = Path(__file__).parent / "static"
Csrf = Annotated[str | None, Form(alias="csrf_token")]


def _done(path: str, message: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={quote(message)}", status_code=303)


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard", include_in_schema=False)

    @r.get("/login", response_class=HTMLResponse)
    def login(request: Request, error: str | None = None) -> Response:
        return render(
            request,
            "login.html",
            title="Sign in",
            org=None,
            error=error,
            form_action="'self' https: http:",
        )

    @r.get("/login/start")
    def login_start(org: Annotated[str, Query(max_length=63)]) -> Response:
        slug = org.strip().lower()
        return RedirectResponse(f"/sso/{quote(slug)}/login", status_code=303)

    @r.post("/logout")
    def logout(
        request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        c.sso_commands.sign_out(who)
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(
            cookie_name(request, SESSION_COOKIE), path="/", secure=request.url.scheme == "https"
        )
        return response

    @r.get("", response_class=HTMLResponse)
    def overview(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        view = c.organizations.own(who)
        door_ids = [d.id for d in c.directory.rows(who, catalog.DOOR)]
        ready = c.directory.door_status(who, door_ids)
        readers = c.directory.rows(who, catalog.READER)
        counts = {
            "doors": len(door_ids),
            "doors_ready": sum(v.ready for v in ready.values()),
            "readers": len(readers),
            "tampered": sum(x.tampered for x in readers),
            "members": c.directory.count(who, catalog.MEMBER),
        }
        return render(
            request,
            "overview.html",
            title="Overview",
            section="Overview",
            org=view.organization,
            eligibility=view.eligibility,
            messages=ELIGIBILITY_MESSAGES,
            counts=counts,
        )

    @r.get("/me", response_class=HTMLResponse)
    def my_page(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        """A member's own page (R26): their pass and devices, the doors they open, taps."""
        profile = c.me.profile(who)
        try:
            own: me.OwnPass | None = c.me.own_pass(who)
        except NotFound:
            own = None
        access = c.me.own_access(who)
        taps, _total = c.me.own_taps(who, limit=20)
        return render(
            request,
            "me.html",
            title="My access",
            section="My access",
            profile=profile,
            own=own,
            access=access,
            taps=taps,
            door_names={a.door_id: a.door_name for a in access},
        )

    @r.get("/doors", response_class=HTMLResponse)
    def door_list(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org = c.organizations.record(who)
        all_doors = c.directory.rows(who, catalog.DOOR)
        places = {p.id: p.name for p in c.directory.rows(who, catalog.PLACE)}
        readers = c.directory.rows(who, catalog.READER)
        verdicts = c.directory.door_status(who, [d.id for d in all_doors])
        rows = [
            {
                "door": d,
                "place": places.get(d.place_id, ""),
                "readiness": verdicts[d.id],
                "readers": [x for x in readers if x.door_id == d.id],
            }
            for d in sorted(all_doors, key=lambda d: d.name.lower())
        ]
        return render(
            request,
            "doors.html",
            title="Doors",
            section="Doors",
            org=org,
            rows=rows,
            messages=READINESS_MESSAGES,
            can_write=who.role in ("owner", "admin"),
        )

    @r.get("/readers", response_class=HTMLResponse)
    def reader_list(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org = c.organizations.record(who)
        door_names = {d.id: d.name for d in c.directory.rows(who, catalog.DOOR)}
        readers = c.directory.rows(who, catalog.READER)
        rows = [
            {
                "reader": x,
                "door": door_names.get(x.door_id, ""),
                "online": c.directory.reader_online(x),
            }
            for x in sorted(readers, key=lambda x: x.name)
        ]
        return render(
            request,
            "readers.html",
            title="Readers",
            section="Readers",
            org=org,
            rows=rows,
            model_names=READER_MODEL_NAMES,
            can_write=who.role in ("owner", "admin"),
        )

    @r.post("/readers/{reader_id}/clear-tamper")
    def reader_clear_tamper(
        reader_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        csrf: Csrf = None,
        back: Annotated[str | None, Form(max_length=100)] = None,
    ) -> Response:
        check_csrf(request, csrf)
        reader = c.directory.clear_tamper(who, reader_id)
        # The reader's own page sends its path back; anything else returns to the list.
        target = back if back == f"/dashboard/readers/{reader.id}" else "/dashboard/readers"
        return _done(target, f"Tamper cleared on {reader.name}.")

    @r.get("/people", response_class=HTMLResponse)
    def people(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org = c.organizations.record(who)
        members = c.directory.rows(who, catalog.MEMBER)
        group_names = {g.id: g.name for g in c.directory.rows(who, catalog.GROUP)}
        rights = c.directory.rows(who, catalog.ACCESS_RIGHT)
        rows = [
            {
                "member": x,
                "groups": sorted({group_names[a.group_id] for a in rights if a.member_id == x.id}),
            }
            for x in sorted(members, key=lambda x: x.display_name.lower())
        ]
        return render(
            request,
            "people.html",
            title="People",
            section="People",
            org=org,
            rows=rows,
            can_write=who.role in ("owner", "admin"),
        )

    @r.post("/people")
    def add_person(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        display_name: Annotated[str, Form(max_length=200)],
        email: Annotated[str, Form(max_length=320)],
        role: Annotated[str, Form(max_length=20)] = "member",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        if role not in {r.value for r in m.Role}:
            raise ValidationError("role must be member, admin or owner", field="role")
        c.directory.create(
            who,
            catalog.MEMBER,
            {"display_name": display_name.strip(), "email": email.strip(), "role": role},
        )
        return _done("/dashboard/people", f"Added {display_name.strip()}.")

    @r.get("/groups", response_class=HTMLResponse)
    def group_list(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org = c.organizations.record(who)
        all_doors = c.directory.rows(who, catalog.DOOR)
        door_names = {d.id: d.name for d in all_doors}
        members = c.directory.rows(who, catalog.MEMBER)
        member_names = {x.id: x.display_name for x in members}
        rights = c.directory.rows(who, catalog.ACCESS_RIGHT)
        by_group = c.directory.doors_by_group(who)
        groups = [
            {
                "group": g,
                "doors": sorted(door_names[d] for d in by_group.get(g.id, [])),
                "members": sorted(
                    {member_names[a.member_id] for a in rights if a.group_id == g.id}
                ),
            }
            for g in sorted(c.directory.rows(who, catalog.GROUP), key=lambda g: g.name.lower())
        ]
        return render(
            request,
            "groups.html",
            title="Groups",
            section="Groups",
            org=org,
            groups=groups,
            doors=all_doors,
            members=members,
            can_write=who.role in ("owner", "admin"),
        )

    @r.post("/groups")
    def add_group(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Annotated[str, Form(max_length=200)],
        door_ids: Annotated[list[str] | None, Form(max_length=1000)] = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        group = c.directory.create_group(
            who, {"name": name.strip(), "description": None, "schedule_id": None}, door_ids or []
        )
        return _done("/dashboard/groups", f"Created group {group.name}.")

    @r.post("/access")
    def give_access(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        member_id: Annotated[str, Form(max_length=40)],
        group_id: Annotated[str, Form(max_length=40)],
        valid_until: Annotated[str | None, Form(max_length=30)] = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        values = {
            "member_id": member_id,
            "group_id": group_id,
            "valid_from": None,
            "valid_until": _local_time(valid_until, "valid_until"),
        }
        c.directory.create(who, catalog.ACCESS_RIGHT, values)
        return _done("/dashboard/groups", "Access given.")

    return r


def mount_static(app: Any) -> None:
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")


def _local_time(value: str | None, field: str) -> datetime | None:
    """Form datetimes (datetime-local, no offset) are taken as UTC, as the form says."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"{field} must be a date and time like 2026-12-01T08:00", field=field
        ) from exc
    try:
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except OverflowError as exc:
        raise ValidationError(
            f"{field} is out of range once converted to UTC", field=field
        ) from exc
