"""Deleting a person: everything that lets them in goes, their history stays readable.

``delete_member`` runs in one transaction: every live Apple Pass of theirs is deleted
through the pass delete (``pass_admin``: devices revoked, Wallet copies voided and
pushed, readers told), every app credential deleted, every session revoked, every
access right (group membership) removed. The member row stays as a tombstone with
status ``deleted`` and the name they had, so past events still show who it was; the
e-mail address and the identity provider's subject are released, so the same person can
be added again later as a new member. One ``member.deleted`` audit event names who did
it and what went. A deleted member cannot sign in, be changed or be given access again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from passgate.domain import model as m
from passgate.domain.errors import Conflict
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.credentials import app_credentials, pass_admin
from passgate.services.events import audit, summarize
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory


def released_email(member_id: str) -> str:
    """What a deleted member's e-mail becomes: unique, and never a deliverable address."""
    return f"deleted-{member_id}@deleted.invalid"


def delete_member(
    uow: UnitOfWork, actor: Actor, member_id: str, *, topic: str | None, now: datetime
) -> m.Member:
    actor.require_write()
    org_id = actor.require_org()
    repo = uow.repo(m.Member)
    member = repo.get(member_id)
    if member.status == m.MemberStatus.DELETED:
        raise Conflict("this member was deleted already", field="member_id")
    if member.id == actor.id:
        raise Conflict("you cannot delete yourself; ask another admin", field="member_id")
    before = summarize(member)
    passes = [
        p.id
        for p in uow.repo(m.ApplePass).all_where(member_id=member_id)
        if p.status != m.PassStatus.DELETED
    ]
    for pass_id in passes:
        pass_admin.delete_pass(uow, actor, pass_id, topic=topic, now=now)
    credentials = app_credentials.end_all_of(uow, actor, member_id, now)
    sessions = uow.repo(m.Session)
    revoked = 0
    for session in sessions.all_where(member_id=member_id):
        if session.revoked_at is None:
            session.revoked_at = now
            sessions.update(session)
            revoked += 1
    rights = uow.repo(m.AccessRight)
    right_ids = sorted(r.id for r in rights.all_where(member_id=member_id))
    rights.delete_where(member_id=member_id)
    member.status = m.MemberStatus.DELETED
    member.email = released_email(member.id)
    member.external_id = None
    repo.update(member)
    audit(
        uow,
        actor,
        org_id=org_id,
        type="member.deleted",
        object_type="member",
        object_id=member.id,
        member_id=member.id,
        now=now,
        before=before,
        after={"status": member.status, "email": member.email, "external_id": None},
        extra={
            "apple_passes_deleted": passes,
            "app_credentials_deleted": credentials,
            "sessions_revoked": revoked,
            "access_rights_removed": right_ids,
        },
    )
    return member


@dataclass(frozen=True)
class MemberCommands:
    """Member deletion as a whole command for every caller (API, dashboard)."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    topic: str | None

    def delete(self, actor: Actor, member_id: str) -> m.Member:
        authorize(actor, "delete_member")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return delete_member(uow, actor, member_id, topic=self.topic, now=now)
