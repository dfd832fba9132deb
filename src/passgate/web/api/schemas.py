"""Request and response bodies of REST API v1 (snake_case JSON, unknown fields refused)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)


def _iso_text_only(value: object) -> object:
    # Lax pydantic turns numbers into dates (Unix time); an API client sending a
    # number for a date almost certainly made a mistake, so refuse it.
    if isinstance(value, int | float | bool):
        raise ValueError("must be an ISO 8601 string, e.g. 2026-01-01T00:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    # 9999-12-31T23:00-05:00 is a valid ISO text but no UTC instant: stored times are UTC.
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("is out of range once converted to UTC (years 1 to 9999)") from exc


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text_only), AfterValidator(_in_utc)]
Day = Annotated[date, BeforeValidator(_iso_text_only)]

Id = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z]+_[0-9a-f]{24}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Timezone = Annotated[str, Field(min_length=1, max_length=64)]
Hhmm = Annotated[str, Field(min_length=4, max_length=5, pattern=r"^\d{1,2}:\d{2}$")]
StalenessS = Annotated[StrictInt, Field(ge=60, le=30 * 86400)]
ReaderModel = Annotated[str, Field(min_length=1, max_length=40)]
Firmware = Annotated[str, Field(min_length=1, max_length=40)]
MemberRole = Literal["owner", "admin", "read_only", "member"]
MemberStatus = Literal["active", "deactivated"]
KeyRole = Literal["admin", "read_only"]
EventType = Annotated[str, Field(min_length=1, max_length=60)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- places ---
class PlaceCreate(Body):
    name: Name
    timezone: Timezone = "UTC"
    address: Annotated[str, Field(max_length=500)] | None = None


class PlaceUpdate(Body):
    name: Name | None = None
    timezone: Timezone | None = None
    address: Annotated[str, Field(max_length=500)] | None = None


class PlaceOut(Out):
    id: str
    name: str
    timezone: str
    address: str | None
    created_at: datetime


class PlaceLockdown(Body):
    lockdown: StrictBool = Field(
        description="true locks down every door of the place; false releases them all"
    )


class PlaceLockdownOut(Out):
    place_id: str = Field(description="The place")
    lockdown: bool = Field(description="The lockdown state every door of the place now has")
    changed_door_ids: list[str] = Field(
        description="Doors whose lockdown changed (the others already had it)"
    )


class DoorCommandOut(Out):
    id: str = Field(description="The command's id (`cmd_...`)")
    door_id: str = Field(description="The door to unlock")
    reader_id: str = Field(description="The reader the command is sent to")
    requested_by: str = Field(description="Who asked: the member's or API key's id")
    state: Literal["pending", "sent", "done", "failed", "expired"] = Field(
        description="pending (waiting for the reader's connection), sent, done (the lock "
        "opened), failed (the reader refused or its relay failed: see `reason`), expired "
        "(not delivered or not answered in time)"
    )
    reason: str | None = Field(
        description="Why it ended: `granted`, the reader's refusal (`door_lockdown`, "
        "`reader_tampered`, `cache_stale`, `wrong_door`, `expired`, `relay_fault`) or "
        "`not_delivered` / `no_answer` on expiry"
    )
    created_at: datetime = Field(description="When it was asked for")
    expires_at: datetime = Field(description="The reader refuses it after this instant")
    finished_at: datetime | None = Field(description="When it ended")


# --- schedules ---
class WindowIn(Body):
    weekday: Annotated[StrictInt, Field(ge=0, le=6, description="0 = Monday .. 6 = Sunday")]
    start: Hhmm
    end: Hhmm = Field(description="Local end time; at or before start means it ends the next day")


class ScheduleCreate(Body):
    name: Name
    windows: Annotated[list[WindowIn], Field(max_length=100)]
    holidays: Annotated[list[Day], Field(max_length=400)] = []


class ScheduleUpdate(Body):
    name: Name | None = None
    windows: Annotated[list[WindowIn], Field(max_length=100)] | None = None
    holidays: Annotated[list[Day], Field(max_length=400)] | None = None


class WindowOut(Out):
    weekday: int
    start: str
    end: str


class ScheduleOut(Out):
    id: str
    name: str
    windows: list[WindowOut]
    holidays: list[date]
    created_at: datetime


# --- doors ---
class DoorCreate(Body):
    place_id: Id
    name: Name
    timezone: Timezone | None = Field(default=None, description="Defaults to the place's")
    lockdown: StrictBool = False
    staleness_limit_s: StalenessS = 36 * 3600
    schedule_id: Id | None = None


class DoorUpdate(Body):
    place_id: Id | None = None
    name: Name | None = None
    timezone: Timezone | None = None
    lockdown: StrictBool | None = None
    staleness_limit_s: StalenessS | None = None
    schedule_id: Id | None = None


class Readiness(Out):
    ready: bool
    reasons: list[str]


class DoorOut(Out):
    id: str
    place_id: str
    name: str
    timezone: str
    lockdown: bool
    staleness_limit_s: int
    schedule_id: str | None
    created_at: datetime
    apple_pass: Readiness


# --- readers ---
class ReaderCreate(Body):
    door_id: Id
    name: Name
    model: ReaderModel
    firmware: Firmware
    tamper_protection: StrictBool = True


class ReaderUpdate(Body):
    door_id: Id | None = None
    name: Name | None = None
    model: ReaderModel | None = None
    firmware: Firmware | None = None
    tamper_protection: StrictBool | None = None


class ReaderOut(Out):
    id: str
    door_id: str
    name: str
    model: str
    firmware: str
    tamper_protection: bool
    tampered: bool
    online: bool
    last_seen_at: datetime | None
    created_at: datetime
    apple_pass: Readiness


# --- groups ---
class GroupCreate(Body):
    name: Name
    description: Annotated[str, Field(max_length=1000)] | None = None
    schedule_id: Id | None = None


class GroupUpdate(Body):
    name: Name | None = None
    description: Annotated[str, Field(max_length=1000)] | None = None
    schedule_id: Id | None = None


class GroupOut(Out):
    id: str
    name: str
    description: str | None
    schedule_id: str | None
    created_at: datetime


class GroupDoors(Body):
    door_ids: Annotated[list[Id], Field(max_length=1000)]


class GroupDoorsOut(Out):
    group_id: str
    door_ids: list[str]


# --- members ---
class MemberCreate(Body):
    email: Annotated[str, Field(min_length=3, max_length=320)]
    display_name: Name
    role: MemberRole = "member"
    external_id: Annotated[str, Field(max_length=200)] | None = None


class MemberUpdate(Body):
    email: Annotated[str, Field(min_length=3, max_length=320)] | None = None
    display_name: Name | None = None
    role: MemberRole | None = None
    status: MemberStatus | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None


class MemberOut(Out):
    id: str
    email: str
    display_name: str
    role: str
    status: str
    external_id: str | None
    created_at: datetime


# --- access rights ---
class AccessRightCreate(Body):
    member_id: Id
    group_id: Id
    valid_from: Instant | None = None
    valid_until: Instant | None = None


class AccessRightUpdate(Body):
    valid_from: Instant | None = None
    valid_until: Instant | None = None


class AccessRightOut(Out):
    id: str
    member_id: str
    group_id: str
    valid_from: datetime | None
    valid_until: datetime | None
    created_at: datetime


# --- API keys ---
class ApiKeyCreate(Body):
    name: Name
    role: KeyRole = "admin"


class ApiKeyOut(Out):
    id: str
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    token: str = Field(description="Shown once. Send as `Authorization: Bearer <token>`")


# --- webhooks ---
class WebhookCreate(Body):
    url: Annotated[str, Field(min_length=10, max_length=2000)]
    event_types: Annotated[list[EventType], Field(max_length=50)] = []


class WebhookUpdate(Body):
    url: Annotated[str, Field(min_length=10, max_length=2000)] | None = None
    event_types: Annotated[list[EventType], Field(max_length=50)] | None = None
    active: StrictBool | None = None


class WebhookOut(Out):
    id: str
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookOut):
    secret: str = Field(description="Shown once. Verifies the Passgate-Signature header")


class WebhookTestOut(Out):
    webhook_id: str = Field(description="The webhook the test message went to")
    url: str = Field(description="Where it was sent")
    delivered: bool = Field(description="true when the endpoint answered 2xx")
    outcome: str = Field(
        description="`http <status>`, `transport: <error>` (no answer), or `refused: ...` "
        "(the address is not allowed: loopback, private or metadata)"
    )


# --- events ---
class EventOut(Out):
    id: str
    category: str
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor_type: str | None
    actor_id: str | None
    actor_name: str | None
    object_type: str | None
    object_id: str | None
    door_id: str | None
    reader_id: str | None
    member_id: str | None
    credential_id: str | None
    granted: bool | None
    reason: str | None
    data: dict[str, object]


# --- organizations and subscriptions ---
class OrganizationCreate(Body):
    name: Name
    slug: Annotated[str, Field(min_length=1, max_length=63)]


class OrganizationOut(Out):
    id: str
    name: str
    slug: str
    created_at: datetime
    sso_enforced: bool
    mfa_required: bool


class OrganizationView(OrganizationOut):
    apple_pass_eligible: bool
    eligibility_reasons: list[str]


class SubscriptionCreate(Body):
    kind: Literal["apple_pass"] = "apple_pass"
    status: Literal["active", "pending", "cancelled"] = "active"
    valid_from: Instant
    valid_until: Instant | None = None


class SubscriptionUpdate(Body):
    status: Literal["active", "pending", "cancelled"] | None = None
    valid_until: Instant | None = None


class SubscriptionOut(Out):
    id: str
    kind: str
    status: str
    valid_from: datetime
    valid_until: datetime | None
    created_at: datetime


class OperatorApiKeyCreate(Body):
    name: Name
    role: KeyRole = "admin"


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail
