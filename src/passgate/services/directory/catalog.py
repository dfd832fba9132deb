"""The rules of each configuration object: what it references, what references it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.errors import Conflict, ValidationError
from passgate.domain.readiness import validate_reader_model
from passgate.domain.schedule import schedule_from_input
from passgate.domain.validation import validate_email, validate_timezone, validate_window
from passgate.services.credentials import app_credentials, pass_effects
from passgate.services.ports import UnitOfWork
from passgate.services.resources import Dependent, Reference, ResourceSpec


def _place_validate(_uow: UnitOfWork, place: m.Place) -> None:
    validate_timezone(place.timezone)


def _door_prepare(uow: UnitOfWork, values: dict[str, Any]) -> dict[str, Any]:
    if values.get("timezone") is None:
        place = uow.repo(m.Place).find(values["place_id"])
        if place is None:
            raise ValidationError(
                "place_id must name an existing place of this organization", field="place_id"
            )
        values["timezone"] = place.timezone
    values.setdefault("lockdown", False)
    values.setdefault("staleness_limit_s", m.DEFAULT_STALENESS_LIMIT_S)
    values.setdefault("schedule_id", None)
    return values


def _door_validate(_uow: UnitOfWork, door: m.Door) -> None:
    validate_timezone(door.timezone)


def _door_before_delete(uow: UnitOfWork, door: m.Door) -> None:
    uow.group_doors.delete_for_door(door.id)


def _reader_prepare(_uow: UnitOfWork, values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("tamper_protection", True)
    values.update(tampered=False, online=False, last_seen_at=None)
    return values


def _reader_validate(_uow: UnitOfWork, reader: m.Reader) -> None:
    validate_reader_model(reader.model)


def _group_before_delete(uow: UnitOfWork, group: m.Group) -> None:
    uow.group_doors.replace(group.id, [])


def _member_prepare(_uow: UnitOfWork, values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("role", m.Role.MEMBER.value)
    values.setdefault("status", m.MemberStatus.ACTIVE.value)
    values.setdefault("external_id", None)
    return values


def _member_validate(uow: UnitOfWork, member: m.Member) -> None:
    member.email = validate_email(member.email)
    same = [x for x in uow.repo(m.Member).all_where(email=member.email) if x.id != member.id]
    if same:
        raise ValidationError("email is already used by another member", field="email")


def _access_right_validate(uow: UnitOfWork, right: m.AccessRight) -> None:
    validate_window(right.valid_from, right.valid_until)
    member = uow.repo(m.Member).find(right.member_id)
    if member is not None and member.status == m.MemberStatus.DELETED:
        raise ValidationError("member_id names a deleted member", field="member_id")


def _schedule_validate(_uow: UnitOfWork, schedule: m.AccessSchedule) -> None:
    schedule_from_input(schedule.windows, schedule.holidays)


PLACE = ResourceSpec(
    name="place",
    entity=m.Place,
    id_prefix="plc",
    validate=_place_validate,
    dependents=(Dependent(m.Door, "place_id", cascade=False, label="doors"),),
    search_fields=("name",),
)
SCHEDULE = ResourceSpec(
    name="schedule",
    entity=m.AccessSchedule,
    id_prefix="sch",
    validate=_schedule_validate,
    dependents=(
        Dependent(m.Door, "schedule_id", cascade=False, label="doors"),
        Dependent(m.Group, "schedule_id", cascade=False, label="groups"),
    ),
    search_fields=("name",),
)
DOOR = ResourceSpec(
    name="door",
    entity=m.Door,
    id_prefix="door",
    references=(
        Reference("place_id", m.Place, "place"),
        Reference("schedule_id", m.AccessSchedule, "schedule"),
    ),
    dependents=(Dependent(m.Reader, "door_id", cascade=False, label="readers"),),
    prepare=_door_prepare,
    validate=_door_validate,
    before_delete=_door_before_delete,
    search_fields=("name",),
)
READER = ResourceSpec(
    name="reader",
    entity=m.Reader,
    id_prefix="rdr",
    references=(Reference("door_id", m.Door, "door"),),
    prepare=_reader_prepare,
    validate=_reader_validate,
    search_fields=("name",),
)
GROUP = ResourceSpec(
    name="group",
    entity=m.Group,
    id_prefix="grp",
    references=(Reference("schedule_id", m.AccessSchedule, "schedule"),),
    dependents=(Dependent(m.AccessRight, "group_id", cascade=True, label="access rights"),),
    before_delete=_group_before_delete,
    search_fields=("name",),
)


def _member_changed(uow: UnitOfWork, before: m.Member, after: m.Member, now: datetime) -> None:
    if before.status == m.MemberStatus.DELETED:
        # Raised inside the update's transaction: it rolls back, nothing changed.
        raise Conflict("this member was deleted; nothing can change it any more")
    pass_effects.member_changed(uow, before, after, now)
    app_credentials.member_changed(uow, before, after, now)


MEMBER = ResourceSpec(
    name="member",
    entity=m.Member,
    id_prefix="mbr",
    dependents=(
        Dependent(m.AccessRight, "member_id", cascade=True, label="access rights"),
        Dependent(m.Session, "member_id", cascade=True, label="sessions"),
        Dependent(m.ApplePass, "member_id", cascade=False, label="Apple Passes"),
        Dependent(m.AppCredential, "member_id", cascade=True, label="app credentials"),
    ),
    prepare=_member_prepare,
    validate=_member_validate,
    after_update=_member_changed,
    search_fields=("email", "display_name"),
)
ACCESS_RIGHT = ResourceSpec(
    name="access_right",
    entity=m.AccessRight,
    id_prefix="acr",
    references=(
        Reference("member_id", m.Member, "member"),
        Reference("group_id", m.Group, "group"),
    ),
    validate=_access_right_validate,
)
