"""Apple Pass readiness of readers and doors (R13).

A door accepts Apple Pass taps only through a reader model declared compatible with
Tap to Unlock AND with tamper protection enabled: without tamper protection a stolen or
opened reader could be made to leak or replay credential material, so the product
refuses to trust it with Wallet keys at all. The dashboard shows the same verdicts, so
readers and admins see one set of reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from passgate.domain.errors import ValidationError

# Models declared compatible with Apple Pass Tap to Unlock; later models get added here.
APPLE_PASS_READER_MODELS: frozenset[str] = frozenset({"reader_pro_2_1"})

# Every model an admin may register; anything else is a validation error.
KNOWN_READER_MODELS: frozenset[str] = frozenset(
    {"reader_pro_2_0", "reader_pro_2_1", "reader_lite_1_0"} | APPLE_PASS_READER_MODELS
)

# How the dashboard names each model.
READER_MODEL_NAMES: dict[str, str] = {
    "reader_pro_2_1": "Reader Pro 2.1 (Apple Pass)",
    "reader_pro_2_0": "Reader Pro 2.0",
    "reader_lite_1_0": "Reader Lite 1.0",
}

READER_UNSUPPORTED = "reader_unsupported"
TAMPER_PROTECTION_OFF = "tamper_protection_off"
NO_READER = "no_reader"
# The door's state right now (not its capability): a reader latched tampered is cut off
# from key material (R14), an offline reader gets no changes.
READER_TAMPERED = "reader_tampered"
READER_OFFLINE = "reader_offline"

# Stable order in which reasons are reported, whatever order readers come in.
_REASON_ORDER: tuple[str, ...] = (
    NO_READER,
    READER_UNSUPPORTED,
    TAMPER_PROTECTION_OFF,
    READER_TAMPERED,
    READER_OFFLINE,
)

READINESS_MESSAGES: dict[str, str] = {
    NO_READER: "This door has no reader, so nothing can open it with an Apple Pass.",
    READER_UNSUPPORTED: (
        "The reader model does not support Apple Pass Tap to Unlock; "
        "a Reader Pro 2.1 or a later compatible model is required."
    ),
    TAMPER_PROTECTION_OFF: (
        "Tamper protection is off on the reader; turn it on to accept Apple Passes."
    ),
    READER_TAMPERED: (
        "A reader on this door reports tampering: it holds no keys and opens nothing "
        "until an admin clears the tamper on the Readers page."
    ),
    READER_OFFLINE: (
        "A reader on this door is offline: new passes and revocations do not reach it "
        "until it reconnects."
    ),
}


@dataclass(frozen=True)
class ReaderReadiness:
    ready: bool
    reasons: tuple[str, ...]  # from {"reader_unsupported", "tamper_protection_off"}


@dataclass(frozen=True)
class DoorReadiness:
    ready: bool
    reasons: tuple[str, ...]  # reader reasons plus "no_reader"


def is_apple_pass_capable(model: str) -> bool:
    """Whether the reader model is declared compatible with Apple Pass taps."""
    return model in APPLE_PASS_READER_MODELS


def validate_reader_model(model: str, field: str = "model") -> str:
    """Return ``model`` if it is a known reader model, else raise ValidationError."""
    if not isinstance(model, str) or model not in KNOWN_READER_MODELS:
        known = ", ".join(sorted(KNOWN_READER_MODELS))
        raise ValidationError(f"{field} must be one of: {known}", field=field)
    return model


def reader_readiness(model: str, tamper_protection: bool) -> ReaderReadiness:
    """Judge one reader; both failures are reported when both apply."""
    reasons: list[str] = []
    if not is_apple_pass_capable(model):
        reasons.append(READER_UNSUPPORTED)
    if tamper_protection is not True:
        reasons.append(TAMPER_PROTECTION_OFF)
    return ReaderReadiness(ready=not reasons, reasons=tuple(reasons))


def door_readiness(readers: Sequence[tuple[str, bool]]) -> DoorReadiness:
    """Ready iff the door has at least one reader and every reader is ready.

    Every reader must be ready because a member may tap at any of them; a door that
    opens with Apple Pass on one side only would be a confusing half-state.
    """
    if not readers:
        return DoorReadiness(ready=False, reasons=(NO_READER,))
    found: set[str] = set()
    for model, tamper_protection in readers:
        found.update(reader_readiness(model, tamper_protection).reasons)
    reasons = tuple(reason for reason in _REASON_ORDER if reason in found)
    return DoorReadiness(ready=not reasons, reasons=reasons)


@dataclass(frozen=True)
class ReaderState:
    model: str
    tamper_protection: bool
    tampered: bool
    online: bool


def reader_model_name(model: str) -> str:
    """The model's name for people (``reader_pro_2_1`` -> ``Reader Pro 2.1 (Apple Pass)``)."""
    return READER_MODEL_NAMES.get(model, model)


def is_online(
    online: bool, last_seen_at: datetime | None, now: datetime, stale_after: timedelta
) -> bool:
    """Online only if the reader said so AND was heard from lately: a server that stopped
    without marking its readers offline must not leave them shown online for ever."""
    return online and last_seen_at is not None and now - last_seen_at <= stale_after


def door_status(readers: Sequence[ReaderState]) -> DoorReadiness:
    """The door's Apple Pass verdict now: R13 readiness plus tampered and offline readers."""
    base = door_readiness([(r.model, r.tamper_protection) for r in readers])
    found = set(base.reasons)
    if any(r.tampered for r in readers):
        found.add(READER_TAMPERED)
    if any(not r.online for r in readers):
        found.add(READER_OFFLINE)
    reasons = tuple(reason for reason in _REASON_ORDER if reason in found)
    return DoorReadiness(ready=not reasons, reasons=reasons)
