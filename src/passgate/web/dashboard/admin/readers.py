"""Dashboard administration of readers: add (with its pairing code, shown once), edit
model and door, tamper protection on/off (R13, R14), a new pairing code, remove."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from passgate.domain import model as m
from passgate.domain.readiness import READER_MODEL_NAMES, READINESS_MESSAGES, reader_readiness
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.directory import catalog
from passgate.web.api import schemas as s
from passgate.web.dashboard.admin.forms import (
    REFUSALS,
    Csrf,
    Invalid,
    can_write,
    check,
    errors_of,
    save,
)
from passgate.web.dashboard.auth import DashboardActor, check_csrf
from passgate.web.dashboard.pages import render
from passgate.web.deps import ContainerDep

Text = Annotated[str, Form(max_length=200)]
LABELS = {"name": "Name", "door_id": "Door", "model": "Model", "firmware": "Firmware"}


def _choices(c: Container, who: Actor) -> dict[str, Any]:
    return {
        "org": c.organizations.record(who),
        "doors": sorted(c.directory.rows(who, catalog.DOOR), key=lambda d: d.name.lower()),
        "models": sorted(READER_MODEL_NAMES.items(), key=lambda kv: kv[1]),
    }


def router() -> APIRouter:
    r = APIRouter(prefix="/dashboard/readers", include_in_schema=False)

    def new_page(
        request: Request,
        c: Container,
        who: Actor,
        *,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        return render(
            request,
            "admin/reader_new.html",
            status_code=status_code,
            title="New reader",
            section="Readers",
            errors=errors or {},
            form=form or {"model": "reader_pro_2_1", "tamper_protection": "on"},
            can_write=can_write(who),
            **_choices(c, who),
        )

    @r.get("/new", response_class=HTMLResponse)
    def reader_new(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        door_id: Annotated[str | None, Query(max_length=40)] = None,
    ) -> Response:
        form = {"model": "reader_pro_2_1", "tamper_protection": "on", "door_id": door_id or ""}
        return new_page(request, c, who, form=form)

    def code_page(
        request: Request, c: Container, who: Actor, reader: m.Reader, code: Any
    ) -> Response:
        return render(
            request,
            "admin/reader_code.html",
            title=f"Pairing code for {reader.name}",
            section="Readers",
            org=_choices(c, who)["org"],
            reader=reader,
            pairing=code,
        )

    @r.post("")
    def reader_create(
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        door_id: Text = "",
        model: Text = "",
        firmware: Text = "",
        tamper_protection: Annotated[str | None, Form(max_length=3)] = None,
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {
            "name": name,
            "door_id": door_id,
            "model": model,
            "firmware": firmware,
            "tamper_protection": tamper_protection or "",
        }
        try:
            if not door_id:
                raise Invalid({"door_id": "Door is required: add a door first"})
            body = check(
                s.ReaderCreate,
                {
                    "name": name,
                    "door_id": door_id,
                    "model": model,
                    "firmware": firmware,
                    "tamper_protection": tamper_protection == "on",
                },
                LABELS,
            )
            paired = c.pairing.add_reader(who, body.model_dump())
        except REFUSALS as exc:
            return new_page(request, c, who, errors=errors_of(exc), form=form, status_code=422)
        # The code is in this page only (not in a URL, not stored in clear): shown once.
        return code_page(request, c, who, paired.reader, paired.code)

    def reader_view(
        request: Request,
        c: Container,
        who: Actor,
        reader_id: str,
        *,
        confirm: str | None = None,
        errors: dict[str, str] | None = None,
        form: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Response:
        context = _choices(c, who)
        reader = c.directory.get(who, catalog.READER, reader_id).one
        return render(
            request,
            "admin/reader.html",
            status_code=status_code,
            title=f"Reader {reader.name}",
            section="Readers",
            reader=reader,
            readiness=reader_readiness(reader.model, reader.tamper_protection),
            messages=READINESS_MESSAGES,
            model_names=READER_MODEL_NAMES,
            door=next((d for d in context["doors"] if d.id == reader.door_id), None),
            errors=errors or {},
            form=form
            or {
                "name": reader.name,
                "door_id": reader.door_id,
                "model": reader.model,
                "firmware": reader.firmware,
            },
            confirm=confirm,
            can_write=can_write(who),
            **context,
        )

    @r.get("/{reader_id}", response_class=HTMLResponse)
    def reader_page(
        reader_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        confirm: Annotated[str | None, Query(pattern="^delete$")] = None,
    ) -> Response:
        return reader_view(request, c, who, reader_id, confirm=confirm)

    @r.post("/{reader_id}")
    def reader_update(
        reader_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        name: Text = "",
        door_id: Text = "",
        model: Text = "",
        firmware: Text = "",
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        form = {"name": name, "door_id": door_id, "model": model, "firmware": firmware}

        def update() -> m.Reader:
            changes = check(s.ReaderUpdate, form, LABELS).model_dump(exclude={"tamper_protection"})
            return c.directory.update(who, catalog.READER, reader_id, changes).one

        return save(
            update,
            lambda reader: (f"/dashboard/readers/{reader_id}", f"Saved reader {reader.name}."),
            refused=lambda errors: reader_view(
                request, c, who, reader_id, errors=errors, form=form, status_code=422
            ),
        )

    @r.post("/{reader_id}/tamper-protection")
    def reader_tamper_protection(
        reader_id: str,
        request: Request,
        c: ContainerDep,
        who: DashboardActor,
        tamper_protection: Annotated[str, Form(pattern="^(on|off)$")],
        csrf: Csrf = None,
    ) -> Response:
        check_csrf(request, csrf)
        on = tamper_protection == "on"
        change = {"tamper_protection": on}
        state = "on" if on else "off: it no longer accepts Apple Passes"
        return save(
            lambda: c.directory.update(who, catalog.READER, reader_id, change).one,
            lambda reader: (
                f"/dashboard/readers/{reader_id}",
                f"{reader.name}: tamper protection {state}.",
            ),
        )

    @r.post("/{reader_id}/pairing-code")
    def reader_pairing_code(
        reader_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        paired = c.pairing.new_code(who, reader_id)
        return code_page(request, c, who, paired.reader, paired.code)

    @r.post("/{reader_id}/delete")
    def reader_delete(
        reader_id: str, request: Request, c: ContainerDep, who: DashboardActor, csrf: Csrf = None
    ) -> Response:
        check_csrf(request, csrf)
        return save(
            lambda: c.directory.delete(who, catalog.READER, reader_id),
            lambda reader: ("/dashboard/readers", f"Removed reader {reader.name}."),
        )

    return r
