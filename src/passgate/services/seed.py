"""A small, realistic organization for the demo and for first-time users."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passgate.domain import model as m
from passgate.services import apikeys, catalog, doors, organizations, resources
from passgate.services.actors import SYSTEM, Actor, ActorKind
from passgate.services.ports import UnitOfWorkFactory

DEMO_SLUG = "acme"


@dataclass(frozen=True)
class Seeded:
    org: m.Organization
    api_token: str | None  # None when the organization already existed


def seed_demo(uow_factory: UnitOfWorkFactory, now: datetime) -> Seeded:
    with uow_factory(None, write=False) as uow:
        existing = uow.organizations.find_by_slug(DEMO_SLUG)
    if existing is not None:
        return Seeded(org=existing, api_token=None)
    operator = Actor(
        kind=ActorKind.OPERATOR, id="operator", name="demo seed", org_id=None, role="owner"
    )
    org = organizations.create_organization(
        uow_factory, operator, name="Acme Corp", slug=DEMO_SLUG, now=now
    )
    organizations.grant_subscription(
        uow_factory,
        operator,
        org_id=org.id,
        kind="apple_pass",
        status="active",
        valid_from=now,
        valid_until=None,
        now=now,
    )
    admin = Actor(
        kind=ActorKind.SYSTEM, id=SYSTEM.id, name="demo seed", org_id=org.id, role="owner"
    )
    with uow_factory(org.id) as uow:
        key = apikeys.create_api_key(
            uow, operator, org_id=org.id, name="demo admin", role="admin", now=now
        )
        place = resources.create(
            uow,
            admin,
            catalog.PLACE,
            {"name": "Headquarters", "timezone": "Europe/Berlin", "address": None},
            now,
        )
        front = resources.create(
            uow, admin, catalog.DOOR, {"place_id": place.id, "name": "Front door"}, now
        )
        lab = resources.create(uow, admin, catalog.DOOR, {"place_id": place.id, "name": "Lab"}, now)
        resources.create(
            uow,
            admin,
            catalog.READER,
            {
                "door_id": front.id,
                "name": "Front reader",
                "model": "reader_pro_2_1",
                "firmware": "2.1.4",
            },
            now,
        )
        resources.create(
            uow,
            admin,
            catalog.READER,
            {
                "door_id": lab.id,
                "name": "Lab reader",
                "model": "reader_pro_2_1",
                "firmware": "2.1.4",
                "tamper_protection": False,
            },
            now,
        )
        staff = resources.create(
            uow,
            admin,
            catalog.GROUP,
            {"name": "Staff", "description": "Everyone", "schedule_id": None},
            now,
        )
        doors.set_group_doors(uow, admin, staff.id, [front.id], now)
        alice = resources.create(
            uow,
            admin,
            catalog.MEMBER,
            {"email": "alice@acme.example", "display_name": "Alice Example"},
            now,
        )
        resources.create(
            uow,
            admin,
            catalog.MEMBER,
            {"email": "admin@acme.example", "display_name": "Ada Admin", "role": "admin"},
            now,
        )
        resources.create(
            uow,
            admin,
            catalog.ACCESS_RIGHT,
            {"member_id": alice.id, "group_id": staff.id, "valid_from": None, "valid_until": None},
            now,
        )
    return Seeded(org=org, api_token=key.token)
