"""Apple Pass device binding (R7-R10), as pure functions over plain data.

A pass is bound to at most one iPhone and one Apple Watch; each device holds its own
P-256 credential key. ``plan_binding`` turns the pass's current devices and an add
request into a plan (what to add, what to mark replaced, what stays), so the service
only has to carry it out. Keeping the rules here lets property tests try every
combination without a database.

Public keys travel as hex of the 65-byte uncompressed point (04 || X || Y): one
spelling only, so the same key always compares equal and hashes to the same key id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.errors import PreconditionFailed, ValidationError

IPHONE = "iphone"
WATCH = "watch"
WATCH_LOCKED = "watch_locked"
PUBLIC_KEY_HEX_LENGTH = 130

# The Devices column of the admin list (R17).
DEVICES_NONE = "none"
DEVICES_BOTH = "both"


@dataclass(frozen=True)
class DeviceClaim:
    """A device the member's app asks to bind, as sent (public key already normalized)."""

    kind: str
    device_id: str
    model: str
    os_version: str
    public_key: str
    app_version: str | None = None
    locked: bool = False


@dataclass(frozen=True)
class BoundDevice:
    """A device currently holding the pass (only active bindings are given to the planner)."""

    id: str
    kind: str
    device_id: str
    public_key: str


@dataclass(frozen=True)
class BindingPlan:
    add: tuple[DeviceClaim, ...]
    replace: tuple[str, ...]  # ids of bound devices whose keys die now (R10)
    unchanged: tuple[str, ...]  # ids of bound devices left as they are
    watch_skipped: str | None = None  # why the requested watch was not added (R9)

    @property
    def changes_anything(self) -> bool:
        return bool(self.add or self.replace)


def normalize_public_key(value: object, field: str) -> str:
    """Lower-case hex of an uncompressed P-256 point that lies on the curve."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if len(text) != PUBLIC_KEY_HEX_LENGTH or not all(c in "0123456789abcdef" for c in text):
        raise ValidationError(
            f"{field} must be the uncompressed P-256 public key (04 || X || Y) as "
            f"{PUBLIC_KEY_HEX_LENGTH} hexadecimal characters",
            field=field,
        )
    raw = bytes.fromhex(text)
    if raw[0] != 0x04:
        raise ValidationError(f"{field} must be an uncompressed point (starting 04)", field=field)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError as exc:
        raise ValidationError(f"{field} is not a point on the P-256 curve", field=field) from exc
    return text


def key_id_of(public_key_hex: str) -> str:
    """The id readers know a credential by: SHA-256 of the uncompressed point, hex."""
    return hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()


def _same(bound: BoundDevice, claim: DeviceClaim) -> bool:
    return bound.device_id == claim.device_id and bound.public_key == claim.public_key


def plan_binding(
    status: str | None,
    bound: Sequence[BoundDevice],
    iphone: DeviceClaim,
    watch: DeviceClaim | None,
) -> BindingPlan:
    """What an add request does to a pass (``status`` of the pass; None: no live pass yet).

    - R7: a suspended pass cannot be side-stepped by adding again.
    - R10: a different iPhone (another device, or the same device with a new key)
      replaces the bound iPhone and the watch bound with it.
    - R9: a watch is added only when unlocked; a locked one is skipped and says so.
    - R10: a different watch replaces the bound watch; the same device and key is a no-op.
    """
    if status == "suspended":
        raise PreconditionFailed(
            "this Apple Pass is suspended by an administrator; it cannot be added again "
            "until it is resumed",
            code="pass_suspended",
        )
    if iphone.kind != IPHONE or (watch is not None and watch.kind != WATCH):
        raise ValidationError("device kinds must be iphone and watch", field="kind")
    if watch is not None and watch.public_key == iphone.public_key:
        # R8: every device holds its own key; a shared key could not be revoked alone.
        raise ValidationError(
            "the watch needs its own credential key, not the iPhone's", field="watch.public_key"
        )
    live = list(bound) if status not in (None, "deleted") else []
    current_phone = next((d for d in live if d.kind == IPHONE), None)
    current_watch = next((d for d in live if d.kind == WATCH), None)
    add: list[DeviceClaim] = []
    replaced: list[str] = []
    unchanged: list[str] = []
    if current_phone is not None and _same(current_phone, iphone):
        unchanged.append(current_phone.id)
    else:
        add.append(iphone)
        if current_phone is not None:
            replaced.append(current_phone.id)
        if current_watch is not None:
            # The watch was provisioned through the old iPhone: it goes with it.
            replaced.append(current_watch.id)
            current_watch = None
    skipped: str | None = None
    if watch is not None and current_watch is not None and _same(current_watch, watch):
        unchanged.append(current_watch.id)
    elif watch is not None and watch.locked:
        skipped = WATCH_LOCKED
        if current_watch is not None:
            unchanged.append(current_watch.id)
    else:
        if watch is not None:
            add.append(watch)
            if current_watch is not None:
                replaced.append(current_watch.id)
        elif current_watch is not None:
            unchanged.append(current_watch.id)
    return BindingPlan(
        add=tuple(add), replace=tuple(replaced), unchanged=tuple(unchanged), watch_skipped=skipped
    )


def devices_column(active_kinds: Sequence[str]) -> str:
    """R17: where a pass is active: iphone, watch, both or none."""
    kinds = set(active_kinds)
    if {IPHONE, WATCH} <= kinds:
        return DEVICES_BOTH
    if IPHONE in kinds:
        return IPHONE
    if WATCH in kinds:
        return WATCH
    return DEVICES_NONE


def wallet_status(status: str, device_status: str) -> str:
    """What one device's Wallet copy shows (a status of passkit's pass.json)."""
    if status == "deleted" or device_status == "revoked":
        return "deleted"
    if device_status == "replaced":
        return "replaced"
    if status == "suspended":
        return "suspended"
    return "active"
