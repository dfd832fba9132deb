"""The Passgate app's own credential (R27, MotionSense): register, list, suspend, delete.

When a member signs in to the mobile app, the app makes a P-256 key on the phone and
registers its public half here. The server binds it to the member (not to an Apple Pass:
no Apple Pass subscription is needed) with its own status, and readers receive it in their
cache like an Apple Pass key, as kind ``mobile_app``: they accept it only over Bluetooth,
and only with tamper protection on (the access decision says so). The registration answer
carries the organization's Aliro reader groups, which the app trusts when a reader proves
itself in the Bluetooth exchange.

One live credential per member and phone: registering again from the same phone (a new
sign-in) deletes the previous one. Signing out deletes it; deactivating the member (also
through SCIM) deletes all of theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from passgate.domain import model as m
from passgate.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from passgate.domain.passes import key_id_of, normalize_public_key
from passgate.services.actors import SYSTEM, Actor, ActorKind
from passgate.services.authz import authorize
from passgate.services.credentials.aliro_groups import current_group, trusted_groups
from passgate.services.events import audit
from passgate.services.ports import Clock, SecretBox, UnitOfWork, UnitOfWorkFactory

STATUSES = tuple(s.value for s in m.AppCredentialStatus)


@dataclass(frozen=True)
class Registered:
    credential: m.AppCredential
    reader_groups: tuple[tuple[str, str], ...]  # (group identifier, public key), hex


def _device_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 100 or not value.isprintable():
        raise ValidationError("device_id must be 1 to 100 printable characters", field="device_id")
    return value


def _audit(uow: UnitOfWork, actor: Actor, cred: m.AppCredential, type: str, now: datetime) -> None:
    audit(
        uow,
        actor,
        org_id=cred.org_id,
        type=type,
        object_type="app_credential",
        object_id=cred.id,
        now=now,
        member_id=cred.member_id,
        after={"status": cred.status, "device_id": cred.device_id, "key_id": cred.key_id},
    )


def _end(uow: UnitOfWork, actor: Actor, cred: m.AppCredential, now: datetime) -> None:
    cred.status = m.AppCredentialStatus.DELETED
    cred.deleted_at = cred.updated_at = now
    uow.repo(m.AppCredential).update(cred)
    _audit(uow, actor, cred, "app_credential.deleted", now)


def register(
    uow_factory: UnitOfWorkFactory,
    key_in_use: Callable[[str], bool],
    box: SecretBox,
    actor: Actor,
    *,
    public_key: object,
    device_id: object,
    now: datetime,
) -> Registered:
    """The app's new key on this phone; the previous one from the same phone is deleted."""
    if actor.kind is not ActorKind.MEMBER or actor.session_kind != "app":
        raise PermissionDenied("only the mobile app registers its credential")
    key = normalize_public_key(public_key, "public_key")
    phone = _device_id(device_id)
    key_id = key_id_of(key)
    org_id = actor.require_org()
    with uow_factory(org_id) as uow:
        member = uow.repo(m.Member).get(actor.id)
        if member.status != m.MemberStatus.ACTIVE:
            raise PermissionDenied("a deactivated member holds no credential")
        creds = uow.repo(m.AppCredential)
        if key_in_use(key_id) or uow.repo(m.PassDevice).count(key_id=key_id):
            raise Conflict(
                "this key was used before; the app must create a new key", field="public_key"
            )
        for old in creds.all_where(member_id=member.id, device_id=phone):
            if old.status != m.AppCredentialStatus.DELETED:
                _end(uow, actor, old, now)
        cred = m.AppCredential(
            id=m.new_id("apc"),
            org_id=org_id,
            member_id=member.id,
            device_id=phone,
            public_key=key,
            key_id=key_id,
            status=m.AppCredentialStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        creds.add(cred)
        _audit(uow, actor, cred, "app_credential.created", now)
        current_group(uow, org_id, box, now)  # the app needs a group to trust
        return Registered(cred, trusted_groups(uow))


def delete_own(
    uow_factory: UnitOfWorkFactory, actor: Actor, credential_id: str, now: datetime
) -> m.AppCredential:
    """Sign-out: the member's own credential is deleted."""
    if actor.kind is not ActorKind.MEMBER:
        raise PermissionDenied("only a member's session signs out of the app")
    with uow_factory(actor.require_org()) as uow:
        cred = uow.repo(m.AppCredential).get(credential_id)
        if cred.member_id != actor.id:
            raise NotFound("app credential not found", field="app_credential_id")
        if cred.status != m.AppCredentialStatus.DELETED:
            _end(uow, actor, cred, now)
        return cred


def list_credentials(
    uow: UnitOfWork,
    *,
    status: str | None = None,
    member_id: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[m.AppCredential], int]:
    filters = {k: v for k, v in (("status", status), ("member_id", member_id)) if v is not None}
    return uow.repo(m.AppCredential).list(
        filters=filters, limit=limit, offset=offset, newest_first=True
    )


# action -> (status before, status after, event type)
_CHANGES = {
    "suspend": (
        m.AppCredentialStatus.ACTIVE,
        m.AppCredentialStatus.SUSPENDED,
        "app_credential.suspended",
    ),
    "resume": (
        m.AppCredentialStatus.SUSPENDED,
        m.AppCredentialStatus.ACTIVE,
        "app_credential.resumed",
    ),
}


def change(
    uow_factory: UnitOfWorkFactory, actor: Actor, credential_id: str, action: str, now: datetime
) -> m.AppCredential:
    """An admin suspends, resumes or deletes an app credential (readers follow at once)."""
    actor.require_write()
    with uow_factory(actor.require_org()) as uow:
        cred = uow.repo(m.AppCredential).get(credential_id)
        if cred.status == m.AppCredentialStatus.DELETED:
            raise Conflict("this app credential was deleted; it is gone for good")
        if action == "delete":
            _end(uow, actor, cred, now)
            return cred
        before, after, event_type = _CHANGES[action]
        if cred.status != before:
            raise Conflict(f"only a {before} app credential can be {event_type.split('.')[1]}")
        cred.status = after
        cred.updated_at = now
        cred.suspended_at = now if after == m.AppCredentialStatus.SUSPENDED else None
        uow.repo(m.AppCredential).update(cred)
        _audit(uow, actor, cred, event_type, now)
        return cred


def end_all_of(uow: UnitOfWork, actor: Actor, member_id: str, now: datetime) -> list[str]:
    """Delete every live app credential of a member (the member is being deleted);
    returns their ids. Each is audited as ``actor``'s, as an admin's delete is."""
    ended = []
    for cred in uow.repo(m.AppCredential).all_where(member_id=member_id):
        if cred.status != m.AppCredentialStatus.DELETED:
            _end(uow, actor, cred, now)
            ended.append(cred.id)
    return ended


def member_changed(uow: UnitOfWork, before: m.Member, after: m.Member, now: datetime) -> None:
    """A deactivated member (by an admin or SCIM deprovisioning) keeps no app credential.

    Runs inside the member update's transaction, whose own audit event names who did it;
    the deletions are recorded as the system's consequence of it.
    """
    if before.status != m.MemberStatus.ACTIVE or after.status == m.MemberStatus.ACTIVE:
        return
    for cred in uow.repo(m.AppCredential).all_where(member_id=after.id):
        if cred.status != m.AppCredentialStatus.DELETED:
            _end(uow, SYSTEM, cred, now)


_OPERATIONS = {
    "suspend": "suspend_app_credential",
    "resume": "resume_app_credential",
    "delete": "delete_app_credential",
}


@dataclass(frozen=True)
class AppCredentialCommands:
    """App credentials as whole commands: the app's own (register, sign out) and the
    administrators' (list, read, suspend, resume, delete), for the API and the dashboard
    alike; each checks the caller's role, owns its transaction and reads the clock."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    box: SecretBox
    # Whether an Apple Pass device already holds this key id (across organizations).
    key_in_use: Callable[[str], bool]

    def register(self, actor: Actor, *, public_key: object, device_id: object) -> Registered:
        authorize(actor, "register_app_credential")
        return register(
            self.uow_factory,
            self.key_in_use,
            self.box,
            actor,
            public_key=public_key,
            device_id=device_id,
            now=self.clock.now(),
        )

    def delete_own(self, actor: Actor, credential_id: str) -> m.AppCredential:
        authorize(actor, "delete_my_app_credential")
        return delete_own(self.uow_factory, actor, credential_id, self.clock.now())

    def page(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        member_id: str | None = None,
        limit: int,
        offset: int = 0,
    ) -> tuple[list[m.AppCredential], int]:
        authorize(actor, "list_app_credentials")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list_credentials(
                uow, status=status, member_id=member_id, limit=limit, offset=offset
            )

    def get(self, actor: Actor, credential_id: str) -> m.AppCredential:
        authorize(actor, "get_app_credential")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.repo(m.AppCredential).get(credential_id)

    def change(self, actor: Actor, credential_id: str, action: str) -> m.AppCredential:
        operation = _OPERATIONS.get(action)
        if operation is None:
            raise ValidationError(f"unknown app credential action {action!r}", field="action")
        authorize(actor, operation)
        return change(self.uow_factory, actor, credential_id, action, self.clock.now())

    def holder_names(self, actor: Actor, member_ids: set[str]) -> dict[str, str]:
        """The display names of the members holding the credentials a page shows."""
        authorize(actor, "list_members")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return {
                mem.id: mem.display_name
                for mem in uow.repo(m.Member).all_where()
                if mem.id in member_ids
            }
