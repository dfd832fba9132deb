"""Entities of an organization's access-control world, as plain data.

Every tenant-owned entity carries ``org_id``; the storage layer scopes every
query by it in one place (``passgate.adapters.db.repository``). Identifiers are
opaque strings with a type prefix (``door_...``) so a leaked id names its kind
and never collides across kinds.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

DEFAULT_STALENESS_LIMIT_S = 36 * 3600


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    # An auditor: signs in to the dashboard and sees everything, changes nothing (R26).
    READ_ONLY = "read_only"
    MEMBER = "member"


class ApiKeyRole(StrEnum):
    ADMIN = "admin"
    READ_ONLY = "read_only"


class MemberStatus(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    # Deleted by an admin: a tombstone that keeps the name for the event log
    # (services/directory/members.py); nothing can change it any more.
    DELETED = "deleted"


class SubscriptionKind(StrEnum):
    APPLE_PASS = "apple_pass"  # noqa: S105 - a subscription kind, not a password


class SubscriptionStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    CANCELLED = "cancelled"


class EventCategory(StrEnum):
    ACCESS = "access"
    AUDIT = "audit"


@dataclass
class Organization:
    id: str
    name: str
    slug: str
    created_at: datetime
    sso_enforced: bool = False
    mfa_required: bool = False


@dataclass
class Subscription:
    id: str
    org_id: str
    kind: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime


@dataclass
class Place:
    id: str
    org_id: str
    name: str
    timezone: str
    address: str | None
    created_at: datetime


@dataclass
class Door:
    id: str
    org_id: str
    place_id: str
    name: str
    timezone: str
    lockdown: bool
    staleness_limit_s: int
    schedule_id: str | None
    created_at: datetime


@dataclass
class Reader:
    id: str
    org_id: str
    door_id: str
    name: str
    model: str
    firmware: str
    tamper_protection: bool
    tampered: bool
    online: bool
    last_seen_at: datetime | None
    created_at: datetime


@dataclass
class Group:
    id: str
    org_id: str
    name: str
    description: str | None
    schedule_id: str | None
    created_at: datetime


@dataclass
class Member:
    id: str
    org_id: str
    email: str
    display_name: str
    role: str
    status: str
    external_id: str | None
    created_at: datetime


@dataclass
class AccessRight:
    id: str
    org_id: str
    member_id: str
    group_id: str
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime


@dataclass
class AccessSchedule:
    """A named weekly schedule; ``windows`` hold {"weekday", "start", "end"} in local time."""

    id: str
    org_id: str
    name: str
    windows: list[dict[str, Any]]
    holidays: list[str]
    created_at: datetime


@dataclass
class ApiKey:
    id: str
    org_id: str
    name: str
    role: str
    secret_hash: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass
class Webhook:
    id: str
    org_id: str
    url: str
    event_types: list[str]
    active: bool
    secret_encrypted: str
    created_at: datetime


@dataclass
class Event:
    """One row of the event log: an access decision (tap) or an audit record."""

    id: str
    org_id: str
    category: str
    type: str
    idempotency_key: str
    occurred_at: datetime
    recorded_at: datetime
    actor_type: str | None = None
    actor_id: str | None = None
    actor_name: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    door_id: str | None = None
    reader_id: str | None = None
    member_id: str | None = None
    credential_id: str | None = None
    granted: bool | None = None
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class OutboxMessage:
    """Work that must follow a committed change (webhook, reader delta, push)."""

    org_id: str
    topic: str
    target_id: str | None
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    id: int | None = None
    attempts: int = 0
    delivered_at: datetime | None = None
    failed_at: datetime | None = None
    last_error: str | None = None
    locked_until: datetime | None = None
    locked_by: str | None = None


class SessionKind(StrEnum):
    BROWSER = "browser"  # dashboard, cookie-borne
    APP = "app"  # the mobile app, bearer token


@dataclass
class Session:
    """A member signed in through SSO; records which IdP proved which factors, and when."""

    id: str
    org_id: str
    member_id: str
    kind: str
    secret_hash: str
    protocol: str
    idp: str
    mfa_proven: bool
    mfa_methods: list[str]
    auth_time: datetime
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime
    revoked_at: datetime | None = None


@dataclass
class SsoConnection:
    """An organization's identity provider. SSO is configured when one is enabled."""

    id: str
    org_id: str
    protocol: str
    enabled: bool
    settings: dict[str, Any]
    secret_sealed: str | None
    accepted_mfa: list[str]
    created_at: datetime
    updated_at: datetime


class PassStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


class DeviceKind(StrEnum):
    IPHONE = "iphone"
    WATCH = "watch"


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"  # superseded by a newer iPhone or watch (R10)
    REVOKED = "revoked"  # the pass was deleted (R19)


@dataclass
class ApplePass:
    """A member's door key in Wallet (R7: at most one not-deleted pass per organization)."""

    id: str
    org_id: str
    member_id: str
    serial_number: str
    status: str
    created_at: datetime
    updated_at: datetime
    suspended_at: datetime | None = None
    deleted_at: datetime | None = None
    last_used_at: datetime | None = None


class AppCredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"


@dataclass
class AppCredential:
    """The Passgate app's own credential on one phone (R27): a P-256 key made on the phone,
    bound to the member (not to an Apple Pass), used over Bluetooth (MotionSense)."""

    id: str
    org_id: str
    member_id: str
    device_id: str  # the phone, as the app names it
    public_key: str  # uncompressed point, hex
    key_id: str  # SHA-256 of the point, hex: how readers name the key
    status: str
    created_at: datetime
    updated_at: datetime
    suspended_at: datetime | None = None
    deleted_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass
class PassDevice:
    """One device holding the pass, with its own credential key (R8)."""

    id: str
    org_id: str
    pass_id: str
    kind: str
    device_id: str
    model: str
    os_version: str
    app_version: str | None
    public_key: str
    key_id: str
    status: str
    added_at: datetime
    paired_device_id: str | None = None
    replaced_at: datetime | None = None
    last_used_at: datetime | None = None
