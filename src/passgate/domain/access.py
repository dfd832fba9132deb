"""The access decision for one tap (R6, R12 to R16).

``decide`` is the single place where a tap becomes granted or denied. The server and the
reader's offline cache both call it with the same views, so a door behaves the same
online and offline, and every tap yields exactly one ``Decision`` with one reason code
that goes into the event log (R15).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from passgate.domain.errors import ValidationError
from passgate.domain.readiness import is_apple_pass_capable
from passgate.domain.schedule import Schedule, is_open, load_timezone, require_aware


class Reason(StrEnum):
    GRANTED = "granted"
    NO_ACCESS_RIGHT = "no_access_right"
    OUTSIDE_SCHEDULE = "outside_schedule"
    PASS_SUSPENDED = "pass_suspended"  # noqa: S105 (a reason code, not a password)
    PASS_DELETED = "pass_deleted"  # noqa: S105 (a reason code, not a password)
    DEVICE_REPLACED = "device_replaced"
    ORG_NOT_ELIGIBLE = "org_not_eligible"
    READER_UNSUPPORTED = "reader_unsupported"
    TAMPER_PROTECTION_OFF = "tamper_protection_off"
    READER_TAMPERED = "reader_tampered"
    UNSUPPORTED_METHOD = "unsupported_method"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    CACHE_STALE = "cache_stale"
    DOOR_LOCKDOWN = "door_lockdown"
    MEMBER_INACTIVE = "member_inactive"
    CREDENTIAL_SUSPENDED = "credential_suspended"  # an app credential (R27)
    CREDENTIAL_DELETED = "credential_deleted"


class CredentialKind(StrEnum):
    APPLE_PASS = "apple_pass"  # noqa: S105 (a credential kind, not a password)
    MOBILE_APP = "mobile_app"


class CredentialStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    REPLACED = "replaced"  # this device's key was superseded by a newer device (R10)


class UnlockMethod(StrEnum):
    NFC = "nfc"
    BLE = "ble"


DEFAULT_STALENESS_LIMIT = timedelta(hours=36)


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: Reason


GRANTED = Decision(True, Reason.GRANTED)


@dataclass(frozen=True)
class CredentialView:
    kind: CredentialKind
    status: CredentialStatus
    member_id: str


@dataclass(frozen=True)
class MemberView:
    id: str
    active: bool


@dataclass(frozen=True)
class ReaderView:
    model: str
    tamper_protection: bool
    tampered: bool


@dataclass(frozen=True)
class DoorView:
    """The door being tapped; construction rejects an unknown timezone or a bad limit."""

    id: str
    timezone: str
    lockdown: bool = False
    schedule: Schedule | None = None
    staleness_limit: timedelta = DEFAULT_STALENESS_LIMIT

    def __post_init__(self) -> None:
        # Checked here, not at tap time, so a misconfigured door fails when it is loaded
        # rather than surfacing as an exception in the middle of someone's tap.
        load_timezone(self.timezone)
        if not isinstance(self.staleness_limit, timedelta) or self.staleness_limit <= timedelta(0):
            raise ValidationError(
                "staleness_limit must be a positive duration", field="staleness_limit"
            )


@dataclass(frozen=True)
class GrantView:
    """One access right of the member that reaches this door (through a group)."""

    valid_from: datetime | None  # None = since forever
    valid_until: datetime | None  # None = open-ended; exclusive
    group_schedule: Schedule | None  # None = always open


@dataclass(frozen=True)
class TapRequest:
    method: UnlockMethod
    credential: CredentialView | None
    member: MemberView | None
    door: DoorView
    reader: ReaderView
    org_eligible: bool
    grants: tuple[GrantView, ...]
    now: datetime
    cache_synced_at: datetime | None = None  # None = decided by the server, authoritative


def _deny(reason: Reason) -> Decision:
    return Decision(False, reason)


def _grant_in_window(grant: GrantView, now: datetime) -> bool:
    if grant.valid_from is not None and now < grant.valid_from:
        return False
    return grant.valid_until is None or now < grant.valid_until


def _check_datetimes(req: TapRequest) -> None:
    # Comparing naive with aware datetimes raises TypeError half-way through a decision;
    # rejecting them up front keeps decide() total over well-formed requests.
    require_aware(req.now, "now")
    if req.cache_synced_at is not None:
        require_aware(req.cache_synced_at, "cache_synced_at")
    for index, grant in enumerate(req.grants):
        if grant.valid_from is not None:
            require_aware(grant.valid_from, f"grants[{index}].valid_from")
        if grant.valid_until is not None:
            require_aware(grant.valid_until, f"grants[{index}].valid_until")


def decide(req: TapRequest) -> Decision:
    """Grant or deny one tap; returns exactly one Decision for every well-formed request.

    Why this order:
    1. A tampered, tamper-protected reader is untrusted hardware: nothing it reports
       about the credential can be believed, so it denies everyone first (R14).
    2. A stale offline cache cannot be trusted to know about revocations (R16), so no
       later verdict drawn from it would mean anything.
    3. Without a known credential and its own member there is nothing to judge.
    4. Apple Pass channel rules (NFC only, capable reader, tamper protection on, eligible
       organization) come before the pass's own status: they say why this door or this
       organization cannot take Apple Passes at all, which is the fix an admin needs,
       and they hold for every pass alike (R3, R12, R13). An app credential has its own
       channel rules (Bluetooth only, tamper protection on: R27) and status reasons.
    5. Revocation of this credential (deleted, replaced, suspended) before member facts,
       most final first.
    6. An inactive member is denied whatever rights they still hold.
    7. Lockdown closes the door for every right and schedule.
    8./9. Only then rights: some grant must be within its validity window, and then the
       door's schedule and at least one such grant's group schedule must be open. A
       missing right is reported before a closed schedule because it is the deeper cause.
    """
    _check_datetimes(req)
    reader = req.reader
    door = req.door

    if reader.tamper_protection and reader.tampered:
        return _deny(Reason.READER_TAMPERED)

    if req.cache_synced_at is not None and req.now - req.cache_synced_at > door.staleness_limit:
        return _deny(Reason.CACHE_STALE)

    credential, member = req.credential, req.member
    if credential is None or member is None:
        return _deny(Reason.UNKNOWN_CREDENTIAL)
    if credential.member_id != member.id:
        # The caller paired a credential with someone else's member record; judging one
        # person's key by another's rights would be a privilege mix-up, so fail closed.
        return _deny(Reason.UNKNOWN_CREDENTIAL)

    if credential.kind == CredentialKind.APPLE_PASS:
        if req.method != UnlockMethod.NFC:
            return _deny(Reason.UNSUPPORTED_METHOD)
        if not is_apple_pass_capable(reader.model):
            return _deny(Reason.READER_UNSUPPORTED)
        if not reader.tamper_protection:
            return _deny(Reason.TAMPER_PROTECTION_OFF)
        if not req.org_eligible:
            return _deny(Reason.ORG_NOT_ELIGIBLE)
    else:
        # R27: the app's own credential over Bluetooth, on any reader with tamper
        # protection on; no Apple Pass subscription needed.
        if req.method != UnlockMethod.BLE:
            return _deny(Reason.UNSUPPORTED_METHOD)
        if not reader.tamper_protection:
            return _deny(Reason.TAMPER_PROTECTION_OFF)
        if credential.status == CredentialStatus.DELETED:
            return _deny(Reason.CREDENTIAL_DELETED)
        if credential.status == CredentialStatus.SUSPENDED:
            return _deny(Reason.CREDENTIAL_SUSPENDED)

    if credential.status == CredentialStatus.DELETED:
        return _deny(Reason.PASS_DELETED)
    if credential.status == CredentialStatus.REPLACED:
        return _deny(Reason.DEVICE_REPLACED)
    if credential.status == CredentialStatus.SUSPENDED:
        return _deny(Reason.PASS_SUSPENDED)
    if credential.status != CredentialStatus.ACTIVE:
        # Fail closed on a status this code does not know rather than treat it as active.
        return _deny(Reason.UNKNOWN_CREDENTIAL)

    if not member.active:
        return _deny(Reason.MEMBER_INACTIVE)

    if door.lockdown:
        return _deny(Reason.DOOR_LOCKDOWN)

    current = [grant for grant in req.grants if _grant_in_window(grant, req.now)]
    if not current:
        return _deny(Reason.NO_ACCESS_RIGHT)

    if door.schedule is not None and not is_open(door.schedule, req.now, door.timezone):
        return _deny(Reason.OUTSIDE_SCHEDULE)
    if any(
        grant.group_schedule is None or is_open(grant.group_schedule, req.now, door.timezone)
        for grant in current
    ):
        return GRANTED
    return _deny(Reason.OUTSIDE_SCHEDULE)
