"""What a member may read about themself (R26): profile, own pass and devices, own access, own taps.

Every function takes the member from the calling session and never from the
request, so there is no id a member could change to reach someone else's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.errors import NotFound, PermissionDenied
from passgate.services.actors import Actor, ActorKind
from passgate.services.authz import authorize
from passgate.services.events import EventFilter
from passgate.services.ports import UnitOfWork, UnitOfWorkFactory


def _member_id(actor: Actor) -> str:
    if actor.kind is not ActorKind.MEMBER or actor.session_id is None:
        raise PermissionDenied("this needs a member's own sign-in (an app or browser session)")
    return actor.id


def profile(uow: UnitOfWork, actor: Actor) -> m.Member:
    return uow.repo(m.Member).get(_member_id(actor))


@dataclass(frozen=True)
class OwnPass:
    apple_pass: m.ApplePass
    devices: list[m.PassDevice]


def own_pass(uow: UnitOfWork, actor: Actor) -> OwnPass:
    """The member's current (not deleted) Apple Pass with its devices, or NotFound."""
    member_id = _member_id(actor)
    live = [
        p
        for p in uow.repo(m.ApplePass).all_where(member_id=member_id)
        if p.status != m.PassStatus.DELETED
    ]
    if not live:
        raise NotFound("you have no Apple Pass in this organization")
    current = max(live, key=lambda p: (p.created_at, p.id))
    devices = sorted(
        uow.repo(m.PassDevice).all_where(pass_id=current.id), key=lambda d: (d.added_at, d.id)
    )
    return OwnPass(apple_pass=current, devices=devices)


@dataclass(frozen=True)
class DoorAccess:
    door_id: str
    door_name: str
    place_name: str
    timezone: str
    group_name: str
    valid_from: datetime | None
    valid_until: datetime | None
    # Weekly windows of the door's and the group's schedules (both must allow a tap).
    schedules: list[dict[str, Any]]
    lockdown: bool


def _schedule(uow: UnitOfWork, schedule_id: str | None, applies_to: str) -> list[dict[str, Any]]:
    if schedule_id is None:
        return []
    schedule = uow.repo(m.AccessSchedule).get(schedule_id)
    return [
        {
            "applies_to": applies_to,
            "name": schedule.name,
            "windows": schedule.windows,
            "holidays": schedule.holidays,
        }
    ]


def own_access(uow: UnitOfWork, actor: Actor) -> list[DoorAccess]:
    """Which doors the member's access rights open, through which group, and when."""
    member_id = _member_id(actor)
    out: list[DoorAccess] = []
    for right in uow.repo(m.AccessRight).all_where(member_id=member_id):
        group = uow.repo(m.Group).get(right.group_id)
        for door_id in uow.group_doors.doors_of(group.id):
            door = uow.repo(m.Door).get(door_id)
            place = uow.repo(m.Place).get(door.place_id)
            out.append(
                DoorAccess(
                    door_id=door.id,
                    door_name=door.name,
                    place_name=place.name,
                    timezone=door.timezone,
                    group_name=group.name,
                    valid_from=right.valid_from,
                    valid_until=right.valid_until,
                    schedules=_schedule(uow, door.schedule_id, "door")
                    + _schedule(uow, group.schedule_id, "group"),
                    lockdown=door.lockdown,
                )
            )
    return sorted(out, key=lambda a: (a.door_name, a.door_id, a.group_name))


def own_taps(
    uow: UnitOfWork, actor: Actor, *, limit: int, offset: int
) -> tuple[list[m.Event], int]:
    """The member's own access decisions (taps), newest first; never audit records."""
    query = EventFilter(category=m.EventCategory.ACCESS.value, member_id=_member_id(actor))
    return uow.events.list(query, limit=limit, offset=offset)


@dataclass(frozen=True)
class MeQueries:
    """A member's own reads as whole queries (API, dashboard): each checks the caller's
    role and opens its own read transaction."""

    uow_factory: UnitOfWorkFactory

    def profile(self, actor: Actor) -> m.Member:
        authorize(actor, "get_me")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return profile(uow, actor)

    def own_pass(self, actor: Actor) -> OwnPass:
        authorize(actor, "get_my_apple_pass")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return own_pass(uow, actor)

    def own_access(self, actor: Actor) -> list[DoorAccess]:
        authorize(actor, "get_my_access")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return own_access(uow, actor)

    def own_taps(self, actor: Actor, *, limit: int, offset: int = 0) -> tuple[list[m.Event], int]:
        authorize(actor, "list_my_events")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return own_taps(uow, actor, limit=limit, offset=offset)
