"""Weekly access schedules with holiday exceptions, evaluated in a door's local time.

A schedule is a set of weekly wall-clock windows ("Monday 08:00 to 18:00") plus local
dates on which it is closed all day. Windows keep their wall-clock meaning across DST
changes: "08:00" is eight o'clock on the door's clock whatever the UTC offset that day.
A wall-clock time that occurs twice (the autumn fold) is therefore open in both
occurrences when a window covers it, and a time skipped in spring simply never occurs.

Pure code: the instant to judge is a parameter; nothing here reads the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from passgate.domain.errors import ValidationError

MINUTES_PER_DAY = 24 * 60

# IANA keys are short relative paths of letters, digits and "_+-". Checking the shape
# first means an odd key (absolute path, "..", NUL) never reaches the filesystem lookup.
_TZ_KEY = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
_TZ_KEY_MAX = 64
_HHMM = re.compile(r"([0-9]{2}):([0-9]{2})")


@dataclass(frozen=True)
class WeeklyWindow:
    """One weekly opening; ``end_minute <= start_minute`` means it runs past midnight."""

    weekday: int  # 0=Monday .. 6=Sunday, the local weekday on which the window starts
    start_minute: int  # 0..1439, minutes after local midnight
    end_minute: int  # 1..1440; <= start_minute: ends on the next day


@dataclass(frozen=True)
class Schedule:
    """Weekly windows plus local dates on which the schedule is closed all day.

    Construction validates every window and holiday, so ``is_open`` only ever sees
    well-formed schedules; the error names the offending entry, e.g.
    ``windows[2].end_minute``.
    """

    windows: tuple[WeeklyWindow, ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        validate_schedule(self)


def _check_int(value: object, field: str, low: int, high: int, rule: str) -> None:
    # bool is an int subclass; True as a weekday is a bug upstream, not Tuesday.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{field} must be an integer", field=field)
    if not low <= value <= high:
        raise ValidationError(f"{field} {rule}", field=field)


def validate_window(w: WeeklyWindow, field: str = "windows") -> None:
    """Raise ValidationError naming ``field.<attribute>`` and the broken rule."""
    if not isinstance(w, WeeklyWindow):
        raise ValidationError(f"{field} must be a weekly window", field=field)
    _check_int(w.weekday, f"{field}.weekday", 0, 6, "must be between 0 (Monday) and 6 (Sunday)")
    _check_int(
        w.start_minute,
        f"{field}.start_minute",
        0,
        MINUTES_PER_DAY - 1,
        "must be between 00:00 and 23:59 (0..1439 minutes)",
    )
    _check_int(
        w.end_minute,
        f"{field}.end_minute",
        1,
        MINUTES_PER_DAY,
        "must be between 00:01 and 24:00 (1..1440 minutes)",
    )


def validate_schedule(schedule: Schedule) -> None:
    """Validate every window (``windows[i]``) and holiday (``holidays``)."""
    if not isinstance(schedule.windows, tuple):
        raise ValidationError("windows must be a tuple of weekly windows", field="windows")
    for index, window in enumerate(schedule.windows):
        validate_window(window, f"windows[{index}]")
    if not isinstance(schedule.holidays, frozenset):
        raise ValidationError("holidays must be a set of dates", field="holidays")
    for day in schedule.holidays:
        # A datetime is a date subclass but never equals a local date, so it would
        # silently never close anything.
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValidationError("holidays must contain calendar dates only", field="holidays")


def parse_hhmm(value: str, field: str, *, allow_end_of_day: bool = True) -> int:
    """Parse "HH:MM" into minutes after midnight.

    "24:00" (1440) is the end of the day and only makes sense as a window end; pass
    ``allow_end_of_day=False`` when parsing a start time.
    """
    if not isinstance(value, str):
        raise ValidationError(f"{field} must be a time written as HH:MM", field=field)
    match = _HHMM.fullmatch(value)
    if match is None:
        raise ValidationError(f"{field} must be a time written as HH:MM, e.g. 08:30", field=field)
    hours, minutes = int(match.group(1)), int(match.group(2))
    if hours == 24 and minutes == 0:
        if not allow_end_of_day:
            raise ValidationError(f"{field} may not be 24:00; use 00:00", field=field)
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise ValidationError(
            f"{field} must be between 00:00 and 23:59 (or 24:00 as an end)", field=field
        )
    return hours * 60 + minutes


def load_timezone(timezone: str, field: str = "timezone") -> ZoneInfo:
    """Return the IANA zone, or ValidationError(field) for anything unknown."""
    if (
        not isinstance(timezone, str)
        or len(timezone) > _TZ_KEY_MAX
        or _TZ_KEY.fullmatch(timezone) is None
    ):
        raise ValidationError(f"{field} must be an IANA time zone name", field=field)
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError(f"{field} is not a known IANA time zone", field=field) from exc


def require_aware(value: datetime, name: str) -> None:
    """Raise ValueError if ``value`` is not a timezone-aware datetime."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def window_covers(window: WeeklyWindow, weekday: int, minute: int) -> bool:
    """Whether ``window`` covers local ``minute`` (0..1439) of local ``weekday``."""
    if window.end_minute > window.start_minute:
        return weekday == window.weekday and window.start_minute <= minute < window.end_minute
    # Crossing midnight: [start, 24:00) on its own day, [00:00, end) on the next
    # (Sunday's tail lands on Monday).
    if weekday == window.weekday and minute >= window.start_minute:
        return True
    return weekday == (window.weekday + 1) % 7 and minute < window.end_minute


def is_open_local(schedule: Schedule, local: datetime) -> bool:
    """Judge a local wall-clock time; holidays close the whole local date."""
    if local.date() in schedule.holidays:
        return False
    weekday = local.weekday()
    # Windows start and end on whole minutes, so flooring the seconds is exact for
    # the half-open [start, end) test.
    minute = local.hour * 60 + local.minute
    return any(window_covers(w, weekday, minute) for w in schedule.windows)


def is_open(schedule: Schedule, at: datetime, timezone: str) -> bool:
    """Whether ``schedule`` is open at the aware instant ``at`` on a door in ``timezone``."""
    require_aware(at, "at")
    zone = load_timezone(timezone)
    # astimezone maps each instant to exactly one wall-clock reading; both instants of
    # an autumn fold map to the same reading, so both are judged by the same window.
    return is_open_local(schedule, at.astimezone(zone))


def schedule_from_input(windows: list[dict[str, Any]], holidays: list[str]) -> Schedule:
    """The stored form of a schedule, checked and turned into the domain's Schedule."""
    parsed: list[WeeklyWindow] = []
    for i, raw in enumerate(windows):
        where = f"windows[{i}]"
        window = WeeklyWindow(
            weekday=int(raw["weekday"]),
            start_minute=parse_hhmm(str(raw["start"]), f"{where}.start", allow_end_of_day=False),
            end_minute=parse_hhmm(str(raw["end"]), f"{where}.end"),
        )
        validate_window(window, where)
        parsed.append(window)
    days: set[date] = set()
    for i, text in enumerate(holidays):
        try:
            days.add(date.fromisoformat(text))
        except ValueError as exc:
            raise ValidationError(
                "holidays must be dates like 2026-12-25", field=f"holidays[{i}]"
            ) from exc
    return Schedule(windows=tuple(parsed), holidays=frozenset(days))
