"""API keys: created with their secret shown once, stored as a hash, checked in constant time.

A key reads ``<key id>.<secret>``; the id finds the row, the secret's SHA-256 is
compared with ``hmac.compare_digest``. Secrets are 256-bit random, so a plain
hash (not a slow password hash) is the right tool: there is nothing to guess.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.domain.errors import Unauthenticated, ValidationError
from passgate.services.actors import Actor, ActorKind
from passgate.services.auth.secret_hash import hash_secret
from passgate.services.auth.sessions import resolve_session
from passgate.services.authz import authorize
from passgate.services.events import audit, summarize
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

_TOUCH_EVERY = timedelta(minutes=1)
_MAX_TOKEN = 200


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: m.ApiKey
    token: str  # shown once; never stored


def create_api_key(
    uow: UnitOfWork, actor: Actor, *, org_id: str, name: str, role: str, now: datetime
) -> CreatedApiKey:
    """Operators create keys for any organization; org admins for their own."""
    if not actor.is_operator:
        actor.require_write()
        if actor.require_org() != org_id:
            raise ValidationError(
                "an API key can only be created for your organization", field="org_id"
            )
    roles = {r.value for r in m.ApiKeyRole}
    if role not in roles:
        raise ValidationError(f"role must be one of: {', '.join(sorted(roles))}", field="role")
    if not name.strip():
        raise ValidationError("name must not be blank", field="name")
    uow.organizations.get(org_id)
    secret = secrets.token_urlsafe(32)
    key = m.ApiKey(
        id=m.new_id("key"),
        org_id=org_id,
        name=name.strip(),
        role=role,
        secret_hash=hash_secret(secret),
        created_at=now,
    )
    uow.repo(m.ApiKey).add(key)
    audit(
        uow,
        actor,
        org_id=org_id,
        type="api_key.created",
        object_type="api_key",
        object_id=key.id,
        now=now,
        after=summarize(key),
    )
    return CreatedApiKey(api_key=key, token=f"{key.id}.{secret}")


def revoke_api_key(uow: UnitOfWork, actor: Actor, key_id: str, now: datetime) -> m.ApiKey:
    actor.require_write()
    org_id = actor.require_org()
    repo = uow.repo(m.ApiKey)
    key = repo.get(key_id)
    if key.revoked_at is None:
        key.revoked_at = now
        repo.update(key)
        audit(
            uow,
            actor,
            org_id=org_id,
            type="api_key.revoked",
            object_type="api_key",
            object_id=key.id,
            now=now,
        )
    return key


class Authenticator:
    """Turns a bearer token into an Actor: operator key, organization API key, member session."""

    def __init__(self, uow_factory: UnitOfWorkFactory, operator_key: str | None) -> None:
        self._uow_factory = uow_factory
        self._operator_hash = None if operator_key is None else hash_secret(operator_key).encode()

    def authenticate(self, token: str | None, now: datetime) -> Actor:
        if not token:
            raise Unauthenticated("an API key is required (Authorization: Bearer <key>)")
        if len(token) > _MAX_TOKEN:
            raise Unauthenticated("the API key is not valid")
        if self._operator_hash is not None and hmac.compare_digest(
            hash_secret(token).encode(), self._operator_hash
        ):
            return Actor(
                kind=ActorKind.OPERATOR, id="operator", name="operator", org_id=None, role="owner"
            )
        if token.startswith("ses_"):
            return resolve_session(self._uow_factory, token, now)
        key_id, _, secret = token.partition(".")
        with self._uow_factory(None, write=False) as uow:
            key = uow.find_api_key(key_id) if key_id.startswith("key_") and secret else None
        expected = key.secret_hash if key is not None else hash_secret("unknown-key-padding")
        # Compare even when the id is unknown, so timing does not reveal which ids exist.
        matches = hmac.compare_digest(hash_secret(secret).encode(), expected.encode())
        if key is None or not matches or key.revoked_at is not None:
            raise Unauthenticated("the API key is not valid")
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            with self._uow_factory(None) as uow:
                uow.touch_api_key(key.id, now)
        return Actor(
            kind=ActorKind.API_KEY, id=key.id, name=key.name, org_id=key.org_id, role=key.role
        )


@dataclass(frozen=True)
class ApiKeyCommands:
    """API keys as whole commands (API, dashboard, operator): each checks the caller's
    role, owns its transaction and reads the clock."""

    uow_factory: UnitOfWorkFactory
    clock: Clock

    def page(self, actor: Actor, *, limit: int, offset: int = 0) -> tuple[list[m.ApiKey], int]:
        authorize(actor, "list_api_keys")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.repo(m.ApiKey).list(limit=limit, offset=offset)

    def all(self, actor: Actor) -> list[m.ApiKey]:
        authorize(actor, "list_api_keys")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list(uow.repo(m.ApiKey).all_where())

    def create(self, actor: Actor, *, name: str, role: str) -> CreatedApiKey:
        """A key for the caller's own organization."""
        authorize(actor, "create_api_key")
        org_id = actor.require_org()
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            return create_api_key(uow, actor, org_id=org_id, name=name, role=role, now=now)

    def create_for(self, actor: Actor, org_id: str, *, name: str, role: str) -> CreatedApiKey:
        """The operator's: a key for any organization."""
        authorize(actor, "create_org_api_key")
        actor.require_operator()
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            return create_api_key(uow, actor, org_id=org_id, name=name, role=role, now=now)

    def revoke(self, actor: Actor, key_id: str) -> m.ApiKey:
        authorize(actor, "revoke_api_key")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return revoke_api_key(uow, actor, key_id, now)
