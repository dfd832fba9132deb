"""Door-side commands and views: group door sets, tamper clearing, lockdown of a whole
place, Apple Pass readiness."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.domain.errors import ValidationError
from passgate.domain.readiness import (
    DoorReadiness,
    ReaderState,
    door_readiness,
    door_status,
    is_online,
)
from passgate.services import resources
from passgate.services.actors import Actor
from passgate.services.directory import catalog
from passgate.services.events import audit
from passgate.services.ports import UnitOfWork

MAX_DOORS_PER_GROUP = 1000


def set_group_doors(
    uow: UnitOfWork, actor: Actor, group_id: str, door_ids: list[str], now: datetime
) -> list[str]:
    actor.require_write()
    org_id = actor.require_org()
    uow.repo(m.Group).get(group_id)
    if len(door_ids) > MAX_DOORS_PER_GROUP:
        raise ValidationError(
            f"door_ids may list at most {MAX_DOORS_PER_GROUP} doors", field="door_ids"
        )
    wanted = sorted(set(door_ids))
    doors = uow.repo(m.Door)
    for i, door_id in enumerate(door_ids):
        if doors.find(door_id) is None:
            raise ValidationError(
                "door_ids must name existing doors of this organization", field=f"door_ids[{i}]"
            )
    before = uow.group_doors.doors_of(group_id)
    if before != wanted:
        uow.group_doors.replace(group_id, wanted)
        audit(
            uow,
            actor,
            org_id=org_id,
            type="group.doors_changed",
            object_type="group",
            object_id=group_id,
            now=now,
            before={"door_ids": before},
            after={"door_ids": wanted},
        )
    return wanted


def clear_tamper(uow: UnitOfWork, actor: Actor, reader_id: str, now: datetime) -> m.Reader:
    """R14: only an admin brings a tampered reader back into service."""
    actor.require_write()
    org_id = actor.require_org()
    repo = uow.repo(m.Reader)
    reader = repo.get(reader_id)
    if reader.tampered:
        reader.tampered = False
        repo.update(reader)
        audit(
            uow,
            actor,
            org_id=org_id,
            type="reader.tamper_cleared",
            object_type="reader",
            object_id=reader.id,
            now=now,
            before={"tampered": True},
            after={"tampered": False},
        )
    return reader


def readiness_of(uow: UnitOfWork, door_ids: Iterable[str]) -> dict[str, DoorReadiness]:
    """R13 verdict for each door, from the readers mounted on it."""
    wanted = set(door_ids)
    by_door: dict[str, list[tuple[str, bool]]] = {d: [] for d in wanted}
    for reader in uow.repo(m.Reader).all_where():
        if reader.door_id in wanted:
            by_door[reader.door_id].append((reader.model, reader.tamper_protection))
    return {door_id: door_readiness(readers) for door_id, readers in by_door.items()}


def set_place_lockdown(
    uow: UnitOfWork, actor: Actor, place_id: str, lockdown: bool, now: datetime
) -> list[m.Door]:
    """Lock down (or release) every door of a place in one transaction.

    Each door that changes gets its own ``door.updated`` audit event, the same as
    changing the doors one by one, so the event log reads the same either way.
    """
    actor.require_write()
    actor.require_org()
    uow.repo(m.Place).get(place_id)
    return [
        resources.update(uow, actor, catalog.DOOR, door.id, {"lockdown": lockdown}, now)
        for door in uow.repo(m.Door).all_where(place_id=place_id)
        if door.lockdown != lockdown
    ]


def reader_online(reader: m.Reader, now: datetime, stale_after: timedelta) -> bool:
    return is_online(reader.online, reader.last_seen_at, now, stale_after)


def status_of(
    uow: UnitOfWork, door_ids: Iterable[str], now: datetime, stale_after: timedelta
) -> dict[str, DoorReadiness]:
    """What the dashboard shows for each door: R13 readiness plus tampered/offline readers."""
    wanted = set(door_ids)
    by_door: dict[str, list[ReaderState]] = {d: [] for d in wanted}
    for reader in uow.repo(m.Reader).all_where():
        if reader.door_id in wanted:
            by_door[reader.door_id].append(
                ReaderState(
                    model=reader.model,
                    tamper_protection=reader.tamper_protection,
                    tampered=reader.tampered,
                    online=reader_online(reader, now, stale_after),
                )
            )
    return {door_id: door_status(readers) for door_id, readers in by_door.items()}
