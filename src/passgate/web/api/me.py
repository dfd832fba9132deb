"""REST API v1: a member's own profile, pass, access and taps (the only reads a member has)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from passgate.services.directory import me
from passgate.web.api import API_PREFIX
from passgate.web.api.crud import ERRORS
from passgate.web.deps import ActorDep, ContainerDep, PageDep, set_total


class ProfileOut(BaseModel):
    id: str
    org_id: str
    email: str
    display_name: str
    role: str
    status: str


class OwnDeviceOut(BaseModel):
    kind: str
    model: str
    os_version: str
    status: str
    added_at: datetime
    replaced_at: datetime | None
    last_used_at: datetime | None


class OwnPassOut(BaseModel):
    id: str
    status: str
    serial_number: str
    added_at: datetime
    devices: list[OwnDeviceOut]


class TapOut(BaseModel):
    id: str
    type: str
    occurred_at: datetime
    door_id: str | None
    reader_id: str | None
    granted: bool | None
    reason: str | None


def router() -> APIRouter:
    r = APIRouter(prefix=f"{API_PREFIX}/me", tags=["me"])

    @r.get(
        "",
        response_model=ProfileOut,
        operation_id="get_me",
        summary="Your profile",
        responses=ERRORS,
    )
    def get_me(c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        member = c.me.profile(who)
        return member.__dict__

    @r.get(
        "/apple_pass",
        response_model=OwnPassOut,
        operation_id="get_my_apple_pass",
        summary="Your Apple Pass and the devices it is on",
        responses=ERRORS,
    )
    def get_my_pass(c: ContainerDep, who: ActorDep) -> OwnPassOut:
        own = c.me.own_pass(who)
        p = own.apple_pass
        return OwnPassOut(
            id=p.id,
            status=p.status,
            serial_number=p.serial_number,
            added_at=p.created_at,
            devices=[OwnDeviceOut.model_validate(d.__dict__) for d in own.devices],
        )

    @r.get(
        "/access",
        response_model=list[me.DoorAccess],
        operation_id="get_my_access",
        summary="The doors you may open, through which group, and when",
        responses=ERRORS,
    )
    def get_my_access(c: ContainerDep, who: ActorDep) -> list[me.DoorAccess]:
        return c.me.own_access(who)

    @r.get(
        "/events",
        response_model=list[TapOut],
        operation_id="list_my_events",
        summary="Your own taps (access decisions), newest first",
        responses=ERRORS,
    )
    def list_my_events(
        c: ContainerDep, who: ActorDep, pg: PageDep, response: Response
    ) -> list[dict[str, Any]]:
        items, total = c.event_log.own_taps(who, limit=pg.limit, offset=pg.offset)
        set_total(response, total)
        return [e.__dict__ for e in items]

    return r
