"""Dotted version numbers and the device prerequisites for adding a pass (R5).

Versions compare numerically part by part ("46.10" is newer than "46.9"), with missing
parts counting as zero ("17" equals "17.0.0"). Parsing is strict: the value comes from a
device we do not control, so anything but 1 to 4 groups of digits is refused with an
error naming the field, instead of being guessed at.
"""

from __future__ import annotations

import re

from passgate.domain.errors import PreconditionFailed, ValidationError

MIN_IOS = "17.0"
MIN_APP = "46.0"

MAX_PARTS = 4
MAX_DIGITS = 9

_PART = re.compile(r"[0-9]+")


def parse_version(value: str, field: str) -> tuple[int, ...]:
    """Parse "46.10" into (46, 10); raise ValidationError(field=field) naming the rule."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a version such as 17.0", field=field)
    parts = value.split(".")
    if len(parts) > MAX_PARTS:
        raise ValidationError(
            f"{field} may have at most {MAX_PARTS} dot-separated parts", field=field
        )
    numbers: list[int] = []
    for part in parts:
        # fullmatch on [0-9] rejects signs, spaces, letters, empty parts and non-ASCII
        # digits that int() would otherwise accept.
        if _PART.fullmatch(part) is None:
            raise ValidationError(
                f"{field} must be numbers separated by dots, such as 17.0.1", field=field
            )
        if len(part) > MAX_DIGITS:
            raise ValidationError(
                f"{field} parts may have at most {MAX_DIGITS} digits", field=field
            )
        numbers.append(int(part))
    return tuple(numbers)


def _padded(version: tuple[int, ...], width: int) -> tuple[int, ...]:
    return version + (0,) * (width - len(version))


def version_at_least(value: str, minimum: str, field: str) -> bool:
    """Whether ``value`` >= ``minimum``; ``value`` errors name ``field``."""
    found = parse_version(value, field)
    required = parse_version(minimum, "minimum")
    width = max(len(found), len(required))
    return _padded(found, width) >= _padded(required, width)


def _display(version: str) -> str:
    # "17.0" reads better as "17" in a sentence; trailing zero parts carry no meaning.
    numbers = list(parse_version(version, "minimum"))
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return ".".join(str(n) for n in numbers)


def check_device_prerequisites(ios_version: str, app_version: str) -> None:
    """Raise PreconditionFailed when the iPhone or the Passgate app is too old.

    Malformed versions raise ValidationError naming the field. The message repeats what
    was found only after it parsed as digits and dots, so nothing odd is echoed back.
    """
    if not version_at_least(ios_version, MIN_IOS, "ios_version"):
        raise PreconditionFailed(
            f"iOS {_display(MIN_IOS)} or later is required; this iPhone runs iOS {ios_version}",
            field="ios_version",
            code="ios_too_old",
        )
    if not version_at_least(app_version, MIN_APP, "app_version"):
        raise PreconditionFailed(
            f"the Passgate app {_display(MIN_APP)} or later is required; "
            f"this iPhone has version {app_version}",
            field="app_version",
            code="app_too_old",
        )
