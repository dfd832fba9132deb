"""Member sessions: what a verified SSO login turns into.

A session records which protocol and identity provider signed the member in,
whether that provider proved a second factor (R2: the IdP's assertion, never the
client's word) and when. Browser sessions carry the member's role; app sessions
(bearer tokens for the mobile app) act as the member only, whatever their role.
Tokens read ``<session id>.<secret>``; only the secret's SHA-256 is stored.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.domain.errors import PermissionDenied, Unauthenticated, ValidationError
from passgate.services.actors import Actor, ActorKind
from passgate.services.auth.secret_hash import hash_secret
from passgate.services.events import audit
from passgate.services.ports import UnitOfWork, UnitOfWorkFactory

_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class LoginProof:
    """What a verified SSO assertion established about the login."""

    protocol: str  # "oidc" | "saml"
    idp: str  # issuer or entity id
    mfa_proven: bool
    methods: tuple[str, ...]  # amr values, acr, or the SAML AuthnContextClassRef
    auth_time: datetime


@dataclass(frozen=True)
class IssuedSession:
    session: m.Session
    token: str  # shown once (cookie value or bearer token)


def start_session(
    uow: UnitOfWork,
    *,
    member: m.Member,
    kind: m.SessionKind,
    proof: LoginProof,
    policy: SessionPolicy,
    now: datetime,
) -> IssuedSession:
    if member.status != m.MemberStatus.ACTIVE:
        raise PermissionDenied("this member is deactivated")
    if proof.auth_time.tzinfo is None:
        raise ValidationError("auth_time must be timezone-aware", field="auth_time")
    secret = secrets.token_urlsafe(32)
    session = m.Session(
        id=m.new_id("ses"),
        org_id=member.org_id,
        member_id=member.id,
        kind=kind.value,
        secret_hash=hash_secret(secret),
        protocol=proof.protocol,
        idp=proof.idp,
        mfa_proven=proof.mfa_proven,
        mfa_methods=list(proof.methods),
        auth_time=proof.auth_time,
        created_at=now,
        last_seen_at=now,
        idle_expires_at=now + policy.idle,
        absolute_expires_at=now + policy.absolute,
    )
    uow.repo(m.Session).add(session)
    actor = actor_for(session, member)
    audit(
        uow,
        actor,
        org_id=member.org_id,
        type="session.started",
        object_type="session",
        object_id=session.id,
        now=now,
        after={
            "kind": session.kind,
            "protocol": proof.protocol,
            "idp": proof.idp,
            "mfa_proven": proof.mfa_proven,
            "methods": list(proof.methods),
            "auth_time": proof.auth_time.isoformat(),
        },
    )
    return IssuedSession(session=session, token=f"{session.id}.{secret}")


def end_session(uow: UnitOfWork, actor: Actor, session_id: str, now: datetime) -> None:
    """Log out (the member themself) or revoke (an admin of the same organization)."""
    repo = uow.repo(m.Session)
    session = repo.get(session_id)
    if actor.session_id != session_id:
        actor.require_write()
    if session.revoked_at is None:
        session.revoked_at = now
        repo.update(session)
        audit(
            uow,
            actor,
            org_id=session.org_id,
            type="session.ended",
            object_type="session",
            object_id=session.id,
            now=now,
        )


def actor_for(session: m.Session, member: m.Member) -> Actor:
    role = member.role if session.kind == m.SessionKind.BROWSER else m.Role.MEMBER.value
    return Actor(
        kind=ActorKind.MEMBER,
        id=member.id,
        name=member.display_name,
        org_id=member.org_id,
        role=role,
        session_id=session.id,
        session_kind=session.kind,
        mfa_at=session.auth_time if session.mfa_proven else None,
    )


def resolve_session(uow_factory: UnitOfWorkFactory, token: str, now: datetime) -> Actor:
    """The member behind a session token, or Unauthenticated (expired, revoked, unknown)."""
    session_id, _, secret = token.partition(".")
    with uow_factory(None, write=False) as uow:
        session = uow.find_session(session_id) if secret else None
    expected = session.secret_hash if session is not None else hash_secret("no-such-session")
    matches = hmac.compare_digest(hash_secret(secret).encode(), expected.encode())
    if session is None or not matches or session.revoked_at is not None:
        raise Unauthenticated("the session is not valid; sign in again")
    if now >= session.idle_expires_at or now >= session.absolute_expires_at:
        raise Unauthenticated("the session has expired; sign in again")
    with uow_factory(session.org_id, write=now - session.last_seen_at > _TOUCH_EVERY) as uow:
        member = uow.repo(m.Member).find(session.member_id)
        if member is None or member.status != m.MemberStatus.ACTIVE:
            raise Unauthenticated("the session's member is no longer active")
        if now - session.last_seen_at > _TOUCH_EVERY:
            _slide(uow, session, now)
    return actor_for(session, member)


def _slide(uow: UnitOfWork, session: m.Session, now: datetime) -> None:
    # Idle expiry slides with use; the absolute expiry never moves.
    idle = session.idle_expires_at - session.last_seen_at
    session.last_seen_at = now
    session.idle_expires_at = min(now + idle, session.absolute_expires_at)
    uow.repo(m.Session).update(session)
