"""The configuration objects as whole commands, for every caller alike (API, dashboard).

Each method checks the caller's role for the operation (``services.authz``), opens its
own transaction, reads the clock and answers with plain data: the entities as the
transaction left them, and for doors their Apple Pass readiness (R13) read in the same
transaction, so a caller renders without a unit of work of its own. The step functions
(``resources.create``, ``doors.set_group_doors``...) stay for services that compose them
inside one larger transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from passgate.domain import model as m
from passgate.domain.readiness import DoorReadiness
from passgate.services import resources
from passgate.services.actors import Actor
from passgate.services.authz import authorize, crud_operation
from passgate.services.directory import catalog, doors
from passgate.services.directory.members import delete_member
from passgate.services.events import EventFilter
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from passgate.services.resources import ResourceSpec

T = TypeVar("T")


@dataclass(frozen=True)
class Rows(Generic[T]):
    """Entities as one transaction saw them; ``readiness`` holds each door's verdict."""

    items: list[T]
    total: int = 0
    readiness: Mapping[str, DoorReadiness] = field(default_factory=dict)

    @property
    def one(self) -> T:
        return self.items[0]


def _rows(uow: UnitOfWork, spec: ResourceSpec[T], items: Sequence[T], total: int = 0) -> Rows[T]:
    verdicts: Mapping[str, DoorReadiness] = {}
    if spec is catalog.DOOR:
        verdicts = doors.readiness_of(uow, [getattr(i, "id") for i in items])  # noqa: B009
    return Rows(list(items), total, verdicts)


@dataclass(frozen=True)
class MemberFile:
    """Everything a person's page shows of them, read in one transaction."""

    member: m.Member
    access_rights: list[m.AccessRight]
    apple_passes: list[m.ApplePass]
    app_credentials: list[m.AppCredential]
    taps: list[m.Event]  # their newest access decisions
    tap_total: int


@dataclass(frozen=True)
class DirectoryCommands:
    uow_factory: UnitOfWorkFactory
    clock: Clock
    # The APNs topic of this server's passes (a deleted member's passes are voided).
    topic: str | None
    # A reader not heard from for this long is offline (the dashboard's door status).
    offline_after: timedelta = timedelta(seconds=90)

    # --- the five operations of every kind of object ---
    def page(
        self,
        actor: Actor,
        spec: ResourceSpec[T],
        *,
        q: str | None = None,
        limit: int,
        offset: int = 0,
    ) -> Rows[T]:
        authorize(actor, crud_operation("list", spec.name))
        with self.uow_factory(actor.require_org(), write=False) as uow:
            search = (spec.search_fields, q) if q and spec.search_fields else None
            items, total = uow.repo(spec.entity).list(search=search, limit=limit, offset=offset)
            return _rows(uow, spec, items, total)

    def rows(self, actor: Actor, spec: ResourceSpec[T], **filters: Any) -> list[T]:
        """Every row of the kind whose fields equal ``filters`` (a page's lists)."""
        authorize(actor, crud_operation("list", spec.name))
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list(uow.repo(spec.entity).all_where(**filters))

    def count(self, actor: Actor, spec: ResourceSpec[Any]) -> int:
        authorize(actor, crud_operation("list", spec.name))
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.repo(spec.entity).count()

    def get(self, actor: Actor, spec: ResourceSpec[T], entity_id: str) -> Rows[T]:
        authorize(actor, crud_operation("get", spec.name))
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return _rows(uow, spec, [resources.get(uow, spec, entity_id)])

    def create(self, actor: Actor, spec: ResourceSpec[T], values: Mapping[str, Any]) -> Rows[T]:
        authorize(actor, crud_operation("create", spec.name))
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return _rows(uow, spec, [resources.create(uow, actor, spec, values, now)])

    def update(
        self, actor: Actor, spec: ResourceSpec[T], entity_id: str, changes: Mapping[str, Any]
    ) -> Rows[T]:
        authorize(actor, crud_operation("update", spec.name))
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            item = resources.update(uow, actor, spec, entity_id, changes, now)
            return _rows(uow, spec, [item])

    def delete(self, actor: Actor, spec: ResourceSpec[T], entity_id: str) -> T:
        """Deletes the row (a member: :func:`members.delete_member`); answers what it was."""
        authorize(actor, crud_operation("delete", spec.name))
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            if spec is catalog.MEMBER:
                member: Any = delete_member(uow, actor, entity_id, topic=self.topic, now=now)
                return member  # type: ignore[no-any-return]
            return resources.delete_returning(uow, actor, spec, entity_id, now)

    def member_file(self, actor: Actor, member_id: str, *, taps: int) -> MemberFile:
        for operation in ("get_member", "list_apple_passes", "list_app_credentials", "list_events"):
            authorize(actor, operation)
        with self.uow_factory(actor.require_org(), write=False) as uow:
            member = uow.repo(m.Member).get(member_id)
            query = EventFilter(category=m.EventCategory.ACCESS, member_id=member_id)
            tap_rows, total = uow.events.list(query, limit=taps, offset=0)
            return MemberFile(
                member=member,
                access_rights=list(uow.repo(m.AccessRight).all_where(member_id=member_id)),
                apple_passes=list(uow.repo(m.ApplePass).all_where(member_id=member_id)),
                app_credentials=list(uow.repo(m.AppCredential).all_where(member_id=member_id)),
                taps=tap_rows,
                tap_total=total,
            )

    # --- beyond plain objects ---
    def group_doors(self, actor: Actor, group_id: str) -> list[str]:
        authorize(actor, "get_group_doors")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            uow.repo(m.Group).get(group_id)
            return uow.group_doors.doors_of(group_id)

    def doors_by_group(self, actor: Actor) -> dict[str, list[str]]:
        """Each group's door ids, for every group of the organization."""
        authorize(actor, "get_group_doors")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return {g.id: uow.group_doors.doors_of(g.id) for g in uow.repo(m.Group).all_where()}

    def readiness(self, actor: Actor, door_ids: list[str]) -> dict[str, DoorReadiness]:
        """R13: whether each door's readers let an Apple Pass work there."""
        authorize(actor, "list_doors")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return doors.readiness_of(uow, door_ids)

    def door_status(self, actor: Actor, door_ids: list[str]) -> dict[str, DoorReadiness]:
        """Readiness plus tampered and offline readers, at the clock's time."""
        authorize(actor, "list_doors")
        now = self.clock.now()
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return doors.status_of(uow, door_ids, now, self.offline_after)

    def reader_online(self, reader: m.Reader) -> bool:
        return doors.reader_online(reader, self.clock.now(), self.offline_after)

    def create_group(self, actor: Actor, values: Mapping[str, Any], door_ids: list[str]) -> m.Group:
        """A group and the doors it opens, in one transaction."""
        authorize(actor, "create_group")
        authorize(actor, "set_group_doors")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            group = resources.create(uow, actor, catalog.GROUP, values, now)
            doors.set_group_doors(uow, actor, group.id, door_ids, now)
            return group

    def update_group(
        self, actor: Actor, group_id: str, changes: Mapping[str, Any], door_ids: list[str]
    ) -> m.Group:
        """A group's fields and the doors it opens, in one transaction."""
        authorize(actor, "update_group")
        authorize(actor, "set_group_doors")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            group = resources.update(uow, actor, catalog.GROUP, group_id, changes, now)
            doors.set_group_doors(uow, actor, group_id, door_ids, now)
            return group

    def change_holidays(
        self, actor: Actor, schedule_id: str, change: Callable[[set[str]], set[str]]
    ) -> m.AccessSchedule:
        """The schedule's holidays (ISO dates) after ``change``, read and written in one
        transaction."""
        authorize(actor, "update_schedule")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            schedule = uow.repo(m.AccessSchedule).get(schedule_id)
            days = sorted(change(set(schedule.holidays)))
            return resources.update(
                uow, actor, catalog.SCHEDULE, schedule_id, {"holidays": days}, now
            )

    def set_group_doors(self, actor: Actor, group_id: str, door_ids: list[str]) -> list[str]:
        authorize(actor, "set_group_doors")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return doors.set_group_doors(uow, actor, group_id, door_ids, now)

    def set_place_lockdown(self, actor: Actor, place_id: str, lockdown: bool) -> list[m.Door]:
        authorize(actor, "set_place_lockdown")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return doors.set_place_lockdown(uow, actor, place_id, lockdown, now)

    def clear_tamper(self, actor: Actor, reader_id: str) -> m.Reader:
        authorize(actor, "clear_reader_tamper")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return doors.clear_tamper(uow, actor, reader_id, now)
