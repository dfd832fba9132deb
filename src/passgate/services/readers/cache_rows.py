"""Pieces of a reader's cache content built from the domain's objects, in the row types
of ``proto.link`` (the hub's ``reader_state`` assembles the sections from them)."""

from __future__ import annotations

from datetime import datetime

from passgate.domain import model as m
from passgate.domain.access import CredentialStatus
from passgate.domain.schedule import Schedule
from passgate.proto import link as wire


def schedule_spec(schedule: Schedule | None) -> wire.ScheduleSpec | None:
    if schedule is None:
        return None
    return {
        "windows": [[w.weekday, w.start_minute, w.end_minute] for w in schedule.windows],
        "holidays": sorted(d.isoformat() for d in schedule.holidays),
    }


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def credential_status(pass_status: str, device_status: str) -> CredentialStatus:
    """Pass and device status folded into one reader-facing status (R10, R19)."""
    if pass_status == m.PassStatus.DELETED or device_status == m.DeviceStatus.REVOKED:
        return CredentialStatus.DELETED
    if device_status == m.DeviceStatus.REPLACED:
        return CredentialStatus.REPLACED
    if pass_status == m.PassStatus.SUSPENDED:
        return CredentialStatus.SUSPENDED
    if pass_status == m.PassStatus.ACTIVE and device_status == m.DeviceStatus.ACTIVE:
        return CredentialStatus.ACTIVE
    return CredentialStatus.DELETED  # an unknown status never opens a door
