"""SCIM 2.0 user provisioning (R23): the IdP creates, changes and deprovisions members.

A user the IdP deprovisions (``active: false``, or DELETE) is deactivated and loses
every Apple Pass at once: the passes are deleted (keys revoked, Wallet copies voided,
readers told) in the same transaction. Deactivated members stay on record so the
audit trail keeps its names; a SCIM DELETE therefore deactivates rather than erases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.errors import ValidationError
from passgate.services import resources
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.credentials import pass_admin
from passgate.services.directory import catalog
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass(frozen=True)
class ScimUser:
    """The SCIM attributes Passgate keeps, already checked."""

    user_name: str  # the member's e-mail
    display_name: str
    external_id: str | None
    active: bool


def parse_user(body: dict[str, Any]) -> ScimUser:
    if USER_SCHEMA not in (body.get("schemas") or []):
        raise ValidationError(f"schemas must include {USER_SCHEMA}", field="schemas")
    user_name = body.get("userName")
    if not isinstance(user_name, str) or not user_name.strip():
        raise ValidationError(
            "userName is required (the member's e-mail address)", field="userName"
        )
    raw_name = body.get("name")
    name: dict[str, Any] = raw_name if isinstance(raw_name, dict) else {}
    display = (
        body.get("displayName")
        or name.get("formatted")
        or " ".join(
            p for p in (name.get("givenName"), name.get("familyName")) if isinstance(p, str)
        )
    )
    if not isinstance(display, str) or not display.strip():
        display = user_name
    external = body.get("externalId")
    if external is not None and not isinstance(external, str):
        raise ValidationError("externalId must be a string", field="externalId")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise ValidationError("active must be true or false", field="active")
    if len(user_name) > 320 or len(display) > 200 or (external and len(external) > 200):
        raise ValidationError("a value is too long", field="userName")
    return ScimUser(user_name.strip(), display.strip(), external, active)


def create_user(uow: UnitOfWork, actor: Actor, user: ScimUser, now: datetime) -> m.Member:
    member = resources.create(
        uow,
        actor,
        catalog.MEMBER,
        {
            "email": user.user_name,
            "display_name": user.display_name,
            "external_id": user.external_id,
        },
        now,
    )
    if not user.active:
        member = deprovision(uow, actor, member.id, topic=None, now=now)
    return member


def replace_user(
    uow: UnitOfWork,
    actor: Actor,
    member_id: str,
    user: ScimUser,
    *,
    topic: str | None,
    now: datetime,
) -> m.Member:
    changes = {
        "email": user.user_name,
        "display_name": user.display_name,
        "external_id": user.external_id,
    }
    member = resources.update(uow, actor, catalog.MEMBER, member_id, changes, now)
    if not user.active and member.status == m.MemberStatus.ACTIVE:
        member = deprovision(uow, actor, member_id, topic=topic, now=now)
    elif user.active and member.status != m.MemberStatus.ACTIVE:
        member = resources.update(uow, actor, catalog.MEMBER, member_id, {"status": "active"}, now)
    return member


def patch_user(
    uow: UnitOfWork,
    actor: Actor,
    member_id: str,
    operations: list[dict[str, Any]],
    *,
    topic: str | None,
    now: datetime,
) -> m.Member:
    """Apply a PatchOp: `replace`/`add` of active, displayName, userName, externalId."""
    current = uow.repo(m.Member).get(member_id)
    wanted = {
        "userName": current.email,
        "displayName": current.display_name,
        "externalId": current.external_id,
        "active": current.status == m.MemberStatus.ACTIVE,
    }
    for i, op in enumerate(operations):
        kind = str(op.get("op", "")).lower()
        if kind not in ("replace", "add"):
            raise ValidationError(
                "only replace and add operations are supported", field=f"Operations[{i}].op"
            )
        path, value = op.get("path"), op.get("value")
        updates = {path: value} if isinstance(path, str) else value
        if not isinstance(updates, dict):
            raise ValidationError(
                "value must be an object when no path is given", field=f"Operations[{i}].value"
            )
        for key, item in updates.items():
            if key not in wanted:
                raise ValidationError(
                    f"attribute {key!r} cannot be changed here", field=f"Operations[{i}].path"
                )
            wanted[key] = item
    user = parse_user({"schemas": [USER_SCHEMA], **wanted})
    return replace_user(uow, actor, member_id, user, topic=topic, now=now)


def deprovision(
    uow: UnitOfWork, actor: Actor, member_id: str, *, topic: str | None, now: datetime
) -> m.Member:
    """Deactivate the member and delete every live Apple Pass of theirs (R23)."""
    for apple_pass in uow.repo(m.ApplePass).all_where(member_id=member_id):
        if apple_pass.status != m.PassStatus.DELETED:
            pass_admin.delete_pass(uow, actor, apple_pass.id, topic=topic, now=now)
    member = uow.repo(m.Member).get(member_id)
    if member.status == m.MemberStatus.ACTIVE:
        member = resources.update(
            uow, actor, catalog.MEMBER, member_id, {"status": "deactivated"}, now
        )
    return member


def find_by_user_name(uow: UnitOfWork, user_name: str) -> list[m.Member]:
    return uow.repo(m.Member).all_where(email=user_name.strip().lower())


@dataclass(frozen=True)
class ScimCommands:
    """SCIM provisioning as whole commands: each checks the caller's role (the identity
    provider's token is an admin API key), owns its transaction and reads the clock."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    # The APNs topic of this server's passes (a deprovisioned member's passes are voided).
    topic: str | None

    def _begin(self, actor: Actor, operation: str) -> str:
        actor.require_write()
        authorize(actor, operation)
        return actor.require_org()

    def users(self, actor: Actor, user_name: str | None = None) -> list[m.Member]:
        """Every member, or those whose userName (e-mail) is ``user_name``."""
        org_id = self._begin(actor, "scim_list_users")
        with self.uow_factory(org_id, write=False) as uow:
            if user_name is not None:
                return find_by_user_name(uow, user_name)
            return list(uow.repo(m.Member).all_where())

    def get(self, actor: Actor, member_id: str) -> m.Member:
        org_id = self._begin(actor, "scim_get_user")
        with self.uow_factory(org_id, write=False) as uow:
            return uow.repo(m.Member).get(member_id)

    def create(self, actor: Actor, user: ScimUser) -> m.Member:
        org_id = self._begin(actor, "scim_create_user")
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            return create_user(uow, actor, user, now)

    def replace(self, actor: Actor, member_id: str, user: ScimUser) -> m.Member:
        org_id = self._begin(actor, "scim_replace_user")
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            return replace_user(uow, actor, member_id, user, topic=self.topic, now=now)

    def patch(self, actor: Actor, member_id: str, operations: list[dict[str, Any]]) -> m.Member:
        org_id = self._begin(actor, "scim_patch_user")
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            return patch_user(uow, actor, member_id, operations, topic=self.topic, now=now)

    def deprovision(self, actor: Actor, member_id: str) -> None:
        org_id = self._begin(actor, "scim_delete_user")
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            deprovision(uow, actor, member_id, topic=self.topic, now=now)
