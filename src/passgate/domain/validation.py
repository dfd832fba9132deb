"""Field rules shared by several entities. Each raises ValidationError naming the field."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from passgate.domain.errors import ValidationError

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")


def validate_timezone(value: str, field: str = "timezone") -> str:
    if value not in _zones():
        raise ValidationError(
            f"{field} must be an IANA time zone name such as 'Europe/Berlin'; got {value[:64]!r}",
            field=field,
        )
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{field} names no loadable time zone", field=field) from exc
    return value


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def validate_slug(value: str, field: str = "slug") -> str:
    if not _SLUG.match(value):
        raise ValidationError(
            f"{field} must be 1-63 lowercase letters, digits or inner hyphens", field=field
        )
    return value


def validate_email(value: str, field: str = "email") -> str:
    if not _EMAIL.match(value):
        raise ValidationError(
            f"{field} must be an e-mail address like name@example.com", field=field
        )
    return value.lower()


def validate_window(
    valid_from: datetime | None,
    valid_until: datetime | None,
    *,
    from_field: str = "valid_from",
    until_field: str = "valid_until",
) -> None:
    for name, value in ((from_field, valid_from), (until_field, valid_until)):
        if value is not None and value.tzinfo is None:
            raise ValidationError(f"{name} must include a time zone offset", field=name)
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise ValidationError(f"{until_field} must be later than {from_field}", field=until_field)


def validate_url(value: str, field: str = "url", *, allow_http: bool = True) -> str:
    schemes = ("https://", "http://") if allow_http else ("https://",)
    if not value.startswith(schemes) or len(value) < 10 or any(c.isspace() for c in value):
        allowed = " or ".join(s.rstrip(":/") for s in schemes)
        raise ValidationError(f"{field} must be an absolute {allowed} URL", field=field)
    return value
