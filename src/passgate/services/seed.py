"""A small, realistic organization for the demo and for first-time users.

Acme Corp: eligible for Apple Passes (R1) when an identity provider is given (SSO
enforced with MFA required, plus an active Apple Pass subscription), one place, two
doors (the front door's reader is Apple Pass ready; the lab's has tamper protection
off, R13), a Staff group with the front door, a member with access and an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.services import organizations, resources
from passgate.services.actors import SYSTEM, Actor, ActorKind
from passgate.services.auth import apikeys
from passgate.services.directory import catalog, doors
from passgate.services.ports import SecretBox, UnitOfWork, UnitOfWorkFactory
from passgate.services.signin import sso as sso_config

DEMO_SLUG = "acme"
MEMBER_EMAIL = "alice@acme.example"
ADMIN_EMAIL = "admin@acme.example"
FRONT_DOOR = "Front door"
LAB_DOOR = "Lab"


@dataclass(frozen=True)
class DemoIdp:
    """The OpenID provider the demo organization signs in with (the development IdP)."""

    issuer: str
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Seeded:
    org: m.Organization
    api_token: str | None  # None when the organization already existed
    readers: dict[str, str]  # door name -> reader id
    subscription_id: str | None


def seed_demo(
    uow_factory: UnitOfWorkFactory,
    now: datetime,
    *,
    idp: DemoIdp | None = None,
    box: SecretBox | None = None,
) -> Seeded:
    with uow_factory(None, write=False) as uow:
        existing = uow.organizations.find_by_slug(DEMO_SLUG)
    if existing is not None:
        if idp is not None:
            # The IdP's address may change between runs (another port): follow it.
            with uow_factory(existing.id) as uow:
                _configure_sso(uow, _seed_actor(existing.id), idp, _need(box), now)
        with uow_factory(existing.id, write=False) as uow:
            door_names = {d.id: d.name for d in uow.repo(m.Door).all_where()}
            readers = {
                door_names.get(r.door_id, r.id): r.id for r in uow.repo(m.Reader).all_where()
            }
        return Seeded(org=existing, api_token=None, readers=readers, subscription_id=None)
    operator = Actor(
        kind=ActorKind.OPERATOR, id="operator", name="demo seed", org_id=None, role="owner"
    )
    org = organizations.create_organization(
        uow_factory, operator, name="Acme Corp", slug=DEMO_SLUG, now=now
    )
    sub = organizations.grant_subscription(
        uow_factory,
        operator,
        org_id=org.id,
        kind="apple_pass",
        status="active",
        valid_from=now,
        valid_until=None,
        now=now,
    )
    admin = _seed_actor(org.id)
    with uow_factory(org.id) as uow:
        key = apikeys.create_api_key(
            uow, operator, org_id=org.id, name="demo admin", role="admin", now=now
        )
        if idp is not None:
            _configure_sso(uow, admin, idp, _need(box), now)
        readers = _seed_world(uow, admin, now)
    return Seeded(org=org, api_token=key.token, readers=readers, subscription_id=sub.id)


def _seed_actor(org_id: str) -> Actor:
    return Actor(kind=ActorKind.SYSTEM, id=SYSTEM.id, name="demo seed", org_id=org_id, role="owner")


def _need(box: SecretBox | None) -> SecretBox:
    if box is None:
        raise ValueError("a secret box is needed to seal the IdP client secret")
    return box


def _configure_sso(
    uow: UnitOfWork, admin: Actor, idp: DemoIdp, box: SecretBox, now: datetime
) -> None:
    """R1 (a): an enabled OIDC connection, SSO enforced, MFA required."""
    age = timedelta(minutes=15)  # unused for a system actor; MFA freshness is for members
    sso_config.put_connection(
        uow,
        admin,
        sso_config.ConnectionInput(
            protocol="oidc",
            enabled=True,
            settings={"issuer": idp.issuer, "client_id": idp.client_id},
            client_secret=idp.client_secret,
        ),
        box=box,
        now=now,
        mfa_max_age=age,
        allow_local_issuer=True,  # the demo's development IdP, which runs in dev mode only
    )
    sso_config.set_flags(
        uow,
        admin,
        sso_enforced=True,
        mfa_required=True,
        now=now,
        mfa_max_age=age,
    )


def _seed_world(uow: UnitOfWork, admin: Actor, now: datetime) -> dict[str, str]:
    place = resources.create(
        uow,
        admin,
        catalog.PLACE,
        {"name": "Headquarters", "timezone": "Europe/Berlin", "address": None},
        now,
    )
    made = {
        name: resources.create(uow, admin, catalog.DOOR, {"place_id": place.id, "name": name}, now)
        for name in (FRONT_DOOR, LAB_DOOR)
    }
    readers = {}
    for name, tamper in ((FRONT_DOOR, True), (LAB_DOOR, False)):
        reader = resources.create(
            uow,
            admin,
            catalog.READER,
            {
                "door_id": made[name].id,
                "name": f"{name} reader",
                "model": "reader_pro_2_1",
                "firmware": "2.1.4",
                "tamper_protection": tamper,
            },
            now,
        )
        readers[name] = reader.id
    # Staff may open both doors: the lab still refuses Apple Passes, for the reader's sake.
    staff = resources.create(
        uow,
        admin,
        catalog.GROUP,
        {"name": "Staff", "description": "Everyone", "schedule_id": None},
        now,
    )
    doors.set_group_doors(uow, admin, staff.id, [made[FRONT_DOOR].id, made[LAB_DOOR].id], now)
    alice = resources.create(
        uow,
        admin,
        catalog.MEMBER,
        {"email": MEMBER_EMAIL, "display_name": "Alice Example"},
        now,
    )
    resources.create(
        uow,
        admin,
        catalog.MEMBER,
        {"email": ADMIN_EMAIL, "display_name": "Ada Admin", "role": "admin"},
        now,
    )
    resources.create(
        uow,
        admin,
        catalog.ACCESS_RIGHT,
        {"member_id": alice.id, "group_id": staff.id, "valid_from": None, "valid_until": None},
        now,
    )
    return readers
