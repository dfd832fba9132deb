"""Dashboard pages. Reads go through the tenant-scoped repositories; every change
goes through the same service commands as the REST API (same rules, same audit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
from passgate.services import organizations, resources
from passgate.services.container import Container
from passgate.services.directory import catalog, doors, me
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import SESSION_COOKIE, ContainerDep, cookie_name

STATIC = Path(__file__).parent / "static"
Csrf = Annotated[str | None, Form(alias="csrf_token")]


def _stale(c: Container) -> timedelta:
    return timedelta(seconds=c.settings.reader_offline_after_s)


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
        from passgate.services.auth.sessions import end_session

        if who.session_id is not None:
            with c.uow_factory(who.require_org()) as uow:
                end_session(uow, who, who.session_id, c.clock.now())
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(
            cookie_name(request, SESSION_COOKIE), path="/", secure=request.url.scheme == "https"
        )
        return response

    @r.get("", response_class=HTMLResponse)
    def overview(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            view = organizations.overview(uow, org_id, c.clock.now())
            door_ids = [d.id for d in uow.repo(m.Door).all_where()]
            ready = doors.status_of(uow, door_ids, c.clock.now(), _stale(c))
            readers = uow.repo(m.Reader).all_where()
            counts = {
                "doors": len(door_ids),
                "doors_ready": sum(v.ready for v in ready.values()),
                "readers": len(readers),
                "tampered": sum(x.tampered for x in readers),
                "members": uow.repo(m.Member).count(),
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
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            profile = me.profile(uow, who)
            try:
                own: me.OwnPass | None = me.own_pass(uow, who)
            except NotFound:
                own = None
            access = me.own_access(uow, who)
            taps, _total = me.own_taps(uow, who, limit=20, offset=0)
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
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            org = uow.organizations.get(org_id)
            all_doors = uow.repo(m.Door).all_where()
            places = {p.id: p.name for p in uow.repo(m.Place).all_where()}
            readers = uow.repo(m.Reader).all_where()
            verdicts = doors.status_of(uow, [d.id for d in all_doors], c.clock.now(), _stale(c))
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
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            org = uow.organizations.get(org_id)
            door_names = {d.id: d.name for d in uow.repo(m.Door).all_where()}
            readers = uow.repo(m.Reader).all_where()
        now = c.clock.now()
        rows = [
            {
                "reader": x,
                "door": door_names.get(x.door_id, ""),
                "online": doors.reader_online(x, now, _stale(c)),
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
        with c.uow_factory(who.require_org()) as uow:
            reader = doors.clear_tamper(uow, who, reader_id, c.clock.now())
        # The reader's own page sends its path back; anything else returns to the list.
        target = back if back == f"/dashboard/readers/{reader.id}" else "/dashboard/readers"
        return _done(target, f"Tamper cleared on {reader.name}.")

    @r.get("/people", response_class=HTMLResponse)
    def people(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            org = uow.organizations.get(org_id)
            members = uow.repo(m.Member).all_where()
            group_names = {g.id: g.name for g in uow.repo(m.Group).all_where()}
            rights = uow.repo(m.AccessRight).all_where()
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
        with c.uow_factory(who.require_org()) as uow:
            resources.create(
                uow,
                who,
                catalog.MEMBER,
                {"display_name": display_name.strip(), "email": email.strip(), "role": role},
                c.clock.now(),
            )
        return _done("/dashboard/people", f"Added {display_name.strip()}.")

    @r.get("/groups", response_class=HTMLResponse)
    def group_list(request: Request, c: ContainerDep, who: DashboardActor) -> Response:
        org_id = who.require_org()
        with c.uow_factory(org_id, write=False) as uow:
            org = uow.organizations.get(org_id)
            all_doors = uow.repo(m.Door).all_where()
            door_names = {d.id: d.name for d in all_doors}
            members = uow.repo(m.Member).all_where()
            member_names = {x.id: x.display_name for x in members}
            rights = uow.repo(m.AccessRight).all_where()
            groups = [
                {
                    "group": g,
                    "doors": sorted(door_names[d] for d in uow.group_doors.doors_of(g.id)),
                    "members": sorted(
                        {member_names[a.member_id] for a in rights if a.group_id == g.id}
                    ),
                }
                for g in sorted(uow.repo(m.Group).all_where(), key=lambda g: g.name.lower())
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
        now = c.clock.now()
        with c.uow_factory(who.require_org()) as uow:
            group = resources.create(
                uow,
                who,
                catalog.GROUP,
                {"name": name.strip(), "description": None, "schedule_id": None},
                now,
            )
            doors.set_group_doors(uow, who, group.id, door_ids or [], now)
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
        with c.uow_factory(who.require_org()) as uow:
            resources.create(uow, who, catalog.ACCESS_RIGHT, values, c.clock.now())
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
