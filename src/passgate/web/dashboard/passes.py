"""Dashboard: Credentials > Apple Passes (R17-R19) over services.credentials.pass_admin, and
Credentials > App (MotionSense, R27) over services.credentials.app_credentials."""

from __future__ import annotations

from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passgate.domain import model as m
from passgate.services.credentials import pass_admin
from passgate.services.paging import COUNT_CAP
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

PAGE = 25
DEVICE_LABELS = {
    "iphone": "iPhone",
    "watch": "Apple Watch",
    "both": "iPhone + Apple Watch",
    "none": "None",
}
DONE = {"suspend": "suspended", "resume": "resumed", "delete": "deleted"}
Csrf = Annotated[str | None, Form(alias="csrf_token")]


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard/credentials", include_in_schema=False)

    @r.get("", include_in_schema=False)
    def credentials() -> Response:
        return RedirectResponse("/dashboard/credentials/apple-passes", status_code=303)

    @r.get("/apple-passes", response_class=HTMLResponse)
    def pass_list(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        q: Annotated[str | None, Query(max_length=100)] = None,
        status: Annotated[str | None, Query(max_length=12)] = None,
        device: Annotated[str | None, Query(max_length=10)] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        org = c.organizations.record(who)
        found = c.pass_commands.browse(
            who,
            status=status or None,
            device=device or None,
            search=q,
            limit=PAGE,
            offset=offset,
        )
        filters = {"q": q or "", "status": status or "", "device": device or ""}

        def page_query(at: int) -> str:
            return urlencode({**filters, "offset": max(at, 0)})

        return render(
            request,
            "passes.html",
            title="Apple Passes",
            section="Credentials",
            org=org,
            rows=found.items,
            total=found.total,
            more=found.next is not None,
            count_cap=COUNT_CAP,
            f=filters,
            offset=offset,
            limit=PAGE,
            page_query=page_query,
            device_labels=DEVICE_LABELS,
        )

    @r.get("/apple-passes/{apple_pass_id}", response_class=HTMLResponse)
    def pass_page(
        apple_pass_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Annotated[str | None, Query(pattern="^(suspend|delete)$")] = None,
    ) -> Response:
        org = c.organizations.record(who)
        detail = c.pass_commands.detail(who, apple_pass_id)
        rollout = None
        if detail.row.apple_pass.status != m.PassStatus.ACTIVE:
            # A revocation: how many readers have applied it, and the others' state.
            rollout = c.rollouts.of_pass(who, apple_pass_id)
        context: dict[str, Any] = {
            "rollout": rollout,
            "row": detail.row,
            "devices": detail.devices,
            "registrations": detail.registrations,
            "logs": detail.logs,
            "events": detail.events,
        }
        return render(
            request,
            "pass_detail.html",
            title=f"Apple Pass of {detail.row.member.display_name}",
            section="Credentials",
            org=org,
            confirm=confirm,
            can_write=who.role in ("owner", "admin"),
            **context,
        )

    @r.post("/apple-passes/{apple_pass_id}/{action}")
    def pass_action(
        apple_pass_id: str,
        action: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        if action not in pass_admin.OPERATIONS:
            return Response(status_code=404)
        changed = c.pass_commands.change(who, apple_pass_id, cast(pass_admin.PassAction, action))
        target = f"/dashboard/credentials/apple-passes/{changed.apple_pass.id}"
        return RedirectResponse(f"{target}?done=Apple+Pass+{DONE[action]}.", status_code=303)

    @r.get("/app-credentials", response_class=HTMLResponse)
    def app_credential_list(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        status: Annotated[str | None, Query(pattern="^(active|suspended|deleted)?$")] = None,
        confirm: Annotated[str | None, Query(max_length=40)] = None,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        org = c.organizations.record(who)
        rows, total = c.app_credentials.page(who, status=status or None, limit=PAGE, offset=offset)
        names = c.app_credentials.holder_names(who, {row.member_id for row in rows})
        confirm_row = next((row for row in rows if row.id == confirm), None)
        return render(
            request,
            "app_credentials.html",
            title="App credentials",
            section="Credentials",
            org=org,
            rows=rows,
            names=names,
            total=total,
            status=status or "",
            offset=offset,
            limit=PAGE,
            confirm_row=confirm_row,
            can_write=who.role in ("owner", "admin"),
        )

    @r.post("/app-credentials/{app_credential_id}/{action}")
    def app_credential_action(
        app_credential_id: str,
        action: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        if action not in DONE:
            return Response(status_code=404)
        c.app_credentials.change(who, app_credential_id, action)
        return RedirectResponse(
            f"/dashboard/credentials/app-credentials?done=App+credential+{DONE[action]}.",
            status_code=303,
        )

    return r
