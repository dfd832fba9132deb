"""REST API v1: the configuration objects of an organization."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from passgate.domain import model as m
from passgate.domain.readiness import reader_readiness
from passgate.services.directory import catalog
from passgate.services.directory.commands import Rows
from passgate.web.api import API_PREFIX
from passgate.web.api import schemas as s
from passgate.web.api.crud import ERRORS, Routes, add_routes
from passgate.web.deps import ActorDep, ContainerDep


def _render_doors(rows: Rows[m.Door]) -> list[dict[str, Any]]:
    out = []
    for door in rows.items:
        verdict = rows.readiness[door.id]
        data = {
            **door.__dict__,
            "apple_pass": {"ready": verdict.ready, "reasons": list(verdict.reasons)},
        }
        out.append(s.DoorOut.model_validate(data).model_dump(mode="json"))
    return out


def _render_readers(rows: Rows[m.Reader]) -> list[dict[str, Any]]:
    out = []
    for reader in rows.items:
        verdict = reader_readiness(reader.model, reader.tamper_protection)
        data = {
            **reader.__dict__,
            "apple_pass": {"ready": verdict.ready, "reasons": list(verdict.reasons)},
        }
        out.append(s.ReaderOut.model_validate(data).model_dump(mode="json"))
    return out


def _schedule_values(values: dict[str, Any]) -> dict[str, Any]:
    # Stored as JSON: ISO date strings, windows as plain dicts.
    if values.get("holidays") is not None:
        values["holidays"] = sorted({d.isoformat() for d in values["holidays"]})
    return values


ROUTES = (
    Routes(
        catalog.PLACE, "places", s.PlaceCreate, s.PlaceUpdate, s.PlaceOut, frozenset({"address"})
    ),
    Routes(
        catalog.SCHEDULE,
        "schedules",
        s.ScheduleCreate,
        s.ScheduleUpdate,
        s.ScheduleOut,
        to_values=_schedule_values,
    ),
    Routes(
        catalog.DOOR,
        "doors",
        s.DoorCreate,
        s.DoorUpdate,
        s.DoorOut,
        frozenset({"schedule_id"}),
        render=_render_doors,
    ),
    Routes(
        catalog.READER,
        "readers",
        s.ReaderCreate,
        s.ReaderUpdate,
        s.ReaderOut,
        render=_render_readers,
    ),
    Routes(
        catalog.GROUP,
        "groups",
        s.GroupCreate,
        s.GroupUpdate,
        s.GroupOut,
        frozenset({"description", "schedule_id"}),
    ),
    Routes(
        catalog.MEMBER,
        "members",
        s.MemberCreate,
        s.MemberUpdate,
        s.MemberOut,
        frozenset({"external_id"}),
    ),
    Routes(
        catalog.ACCESS_RIGHT,
        "access_rights",
        s.AccessRightCreate,
        s.AccessRightUpdate,
        s.AccessRightOut,
        frozenset({"valid_from", "valid_until"}),
    ),
)

PlaceId = Annotated[str, Path(min_length=1, max_length=40)]
GroupId = Annotated[str, Path(min_length=1, max_length=40)]
ReaderId = Annotated[str, Path(min_length=1, max_length=40)]
DoorId = Annotated[str, Path(min_length=1, max_length=40)]
CommandId = Annotated[str, Path(min_length=1, max_length=40)]


def router() -> APIRouter:
    r = APIRouter(prefix=API_PREFIX)
    for routes in ROUTES:
        add_routes(r, routes)

    @r.get(
        "/groups/{group_id}/doors",
        response_model=s.GroupDoorsOut,
        tags=["groups"],
        operation_id="get_group_doors",
        summary="Doors a group opens",
        responses=ERRORS,
    )
    def get_group_doors(group_id: GroupId, c: ContainerDep, who: ActorDep) -> s.GroupDoorsOut:
        return s.GroupDoorsOut(group_id=group_id, door_ids=c.directory.group_doors(who, group_id))

    @r.put(
        "/groups/{group_id}/doors",
        response_model=s.GroupDoorsOut,
        tags=["groups"],
        operation_id="set_group_doors",
        summary="Replace the doors a group opens",
        responses=ERRORS,
    )
    def put_group_doors(
        group_id: GroupId, body: s.GroupDoors, c: ContainerDep, who: ActorDep
    ) -> s.GroupDoorsOut:
        ids = c.directory.set_group_doors(who, group_id, body.door_ids)
        return s.GroupDoorsOut(group_id=group_id, door_ids=ids)

    @r.post(
        "/places/{place_id}/lockdown",
        response_model=s.PlaceLockdownOut,
        tags=["places"],
        operation_id="set_place_lockdown",
        summary="Lock down or release every door of a place",
        description=(
            "Sets `lockdown` on every door of the place in one transaction. A locked-down "
            "door denies every tap (`door_lockdown`) until released. Each door that changes "
            "is recorded as its own `door.updated` audit event."
        ),
        responses=ERRORS,
    )
    def place_lockdown(
        place_id: PlaceId, body: s.PlaceLockdown, c: ContainerDep, who: ActorDep
    ) -> s.PlaceLockdownOut:
        changed = c.directory.set_place_lockdown(who, place_id, body.lockdown)
        return s.PlaceLockdownOut(
            place_id=place_id, lockdown=body.lockdown, changed_door_ids=[d.id for d in changed]
        )

    @r.post(
        "/doors/{door_id}/unlock",
        response_model=s.DoorCommandOut,
        status_code=202,
        tags=["doors"],
        operation_id="unlock_door",
        summary="Unlock a door now, remotely, through its reader",
        responses=ERRORS,
    )
    def unlock_door(door_id: DoorId, c: ContainerDep, who: ActorDep) -> s.DoorCommandOut:
        cmd = c.door_commands.request_unlock(who, door_id)
        return s.DoorCommandOut.model_validate(cmd)

    @r.get(
        "/door_commands/{command_id}",
        response_model=s.DoorCommandOut,
        tags=["doors"],
        operation_id="get_door_command",
        summary="Follow a remote unlock command",
        responses=ERRORS,
    )
    def get_door_command(command_id: CommandId, c: ContainerDep, who: ActorDep) -> s.DoorCommandOut:
        return s.DoorCommandOut.model_validate(c.door_commands.get(who, command_id))

    @r.post(
        "/readers/{reader_id}/clear-tamper",
        response_model=s.ReaderOut,
        tags=["readers"],
        operation_id="clear_reader_tamper",
        summary="Bring a tampered reader back (R14)",
        responses=ERRORS,
    )
    def clear_tamper(reader_id: ReaderId, c: ContainerDep, who: ActorDep) -> dict[str, Any]:
        return _render_readers(Rows([c.directory.clear_tamper(who, reader_id)]))[0]

    return r
