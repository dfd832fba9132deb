"""Weekly schedules: parsing, validation, midnight crossing, holidays, DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.domain.errors import ValidationError
from passgate.domain.schedule import (
    Schedule,
    WeeklyWindow,
    is_open,
    parse_hhmm,
    validate_window,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
ZONES = [BERLIN, NEW_YORK, "UTC", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"]
FAST = settings(max_examples=150, deadline=None)

MON, TUE, FRI, SAT, SUN = 0, 1, 4, 5, 6


def local(
    tz: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(tz))


# 2026-11-23 is a Monday.
OFFICE = Schedule(windows=(WeeklyWindow(MON, 8 * 60, 18 * 60),))


# --- parse_hhmm --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("00:00", 0), ("08:30", 510), ("23:59", 1439), ("24:00", 1440), ("12:05", 725)],
)
def test_parse_hhmm_accepts(text: str, minutes: int) -> None:
    assert parse_hhmm(text, "start") == minutes


@pytest.mark.parametrize(
    "text",
    ["", "8:30", "08:3", "08:60", "25:00", "24:01", "24:30", " 08:30", "08:30 ", "0830",
     "08-30", "-1:00", "\uff10\uff18:\uff13\uff10", "08:30:00", "ab:cd"],
)  # fmt: skip
def test_parse_hhmm_rejects_naming_field(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_hhmm(text, "windows[0].start")
    assert info.value.field == "windows[0].start"
    assert "windows[0].start" in info.value.message


def test_parse_hhmm_end_of_day_only_when_allowed() -> None:
    with pytest.raises(ValidationError, match="24:00"):
        parse_hhmm("24:00", "start", allow_end_of_day=False)
    assert parse_hhmm("23:59", "start", allow_end_of_day=False) == 1439


def test_parse_hhmm_rejects_non_string() -> None:
    with pytest.raises(ValidationError):
        parse_hhmm(830, "start")  # type: ignore[arg-type]


# --- validation --------------------------------------------------------------------


def test_valid_windows_pass() -> None:
    validate_window(WeeklyWindow(0, 0, 1440))
    validate_window(WeeklyWindow(6, 1439, 1))


@pytest.mark.parametrize(
    ("window", "attribute"),
    [
        (WeeklyWindow(7, 0, 60), "weekday"),
        (WeeklyWindow(-1, 0, 60), "weekday"),
        (WeeklyWindow(True, 0, 60), "weekday"),
        (WeeklyWindow(0, 1440, 60), "start_minute"),
        (WeeklyWindow(0, -1, 60), "start_minute"),
        (WeeklyWindow(0, 0, 0), "end_minute"),
        (WeeklyWindow(0, 0, 1441), "end_minute"),
        (WeeklyWindow(0, 0, 60.0), "end_minute"),  # type: ignore[arg-type]
    ],
)
def test_invalid_window_names_field(window: WeeklyWindow, attribute: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_window(window, "windows[3]")
    assert info.value.field == f"windows[3].{attribute}"


def test_schedule_construction_validates_with_index() -> None:
    good = WeeklyWindow(0, 0, 60)
    with pytest.raises(ValidationError) as info:
        Schedule(windows=(good, good, WeeklyWindow(0, 10, 2000)))
    assert info.value.field == "windows[2].end_minute"


def test_schedule_rejects_datetime_holidays() -> None:
    with pytest.raises(ValidationError) as info:
        Schedule(windows=(), holidays=frozenset({datetime(2026, 12, 25, tzinfo=UTC)}))
    assert info.value.field == "holidays"


# --- is_open basics ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "second", "expected"),
    [(7, 59, 59, False), (8, 0, 0, True), (17, 59, 59, True), (18, 0, 0, False)],
)
def test_window_is_half_open(hour: int, minute: int, second: int, expected: bool) -> None:
    assert is_open(OFFICE, local(BERLIN, 2026, 11, 23, hour, minute, second), BERLIN) is expected


def test_other_weekday_closed() -> None:
    assert not is_open(OFFICE, local(BERLIN, 2026, 11, 24, 9, 0), BERLIN)


def test_evaluated_in_door_timezone_not_instant_zone() -> None:
    # 07:30 UTC on a Monday in November is 08:30 in Berlin: open for a Berlin door.
    at = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert is_open(OFFICE, at, BERLIN)
    assert not is_open(OFFICE, at, "UTC")


def test_crossing_midnight_friday_night() -> None:
    night = Schedule(windows=(WeeklyWindow(FRI, 22 * 60, 2 * 60),))
    assert not is_open(night, local(BERLIN, 2026, 11, 27, 21, 59), BERLIN)
    assert is_open(night, local(BERLIN, 2026, 11, 27, 22, 0), BERLIN)
    assert is_open(night, local(BERLIN, 2026, 11, 28, 1, 59), BERLIN)
    assert not is_open(night, local(BERLIN, 2026, 11, 28, 2, 0), BERLIN)
    assert not is_open(night, local(BERLIN, 2026, 11, 27, 1, 0), BERLIN)  # Friday early


def test_sunday_night_wraps_to_monday() -> None:
    night = Schedule(windows=(WeeklyWindow(SUN, 22 * 60, 6 * 60),))
    assert is_open(night, local(BERLIN, 2026, 11, 23, 5, 0), BERLIN)  # Monday 05:00
    assert not is_open(night, local(BERLIN, 2026, 11, 24, 5, 0), BERLIN)  # Tuesday


def test_equal_start_and_end_is_a_full_day_from_start() -> None:
    day = Schedule(windows=(WeeklyWindow(TUE, 600, 600),))
    assert is_open(day, local(BERLIN, 2026, 11, 24, 10, 0), BERLIN)
    assert is_open(day, local(BERLIN, 2026, 11, 25, 9, 59), BERLIN)
    assert not is_open(day, local(BERLIN, 2026, 11, 25, 10, 0), BERLIN)
    assert not is_open(day, local(BERLIN, 2026, 11, 24, 9, 59), BERLIN)


def test_holiday_closes_the_after_midnight_tail_only() -> None:
    saturday = date(2026, 11, 28)
    night = Schedule(windows=(WeeklyWindow(FRI, 22 * 60, 2 * 60),), holidays=frozenset({saturday}))
    assert is_open(night, local(BERLIN, 2026, 11, 27, 23, 0), BERLIN)
    assert not is_open(night, local(BERLIN, 2026, 11, 28, 1, 0), BERLIN)


def test_holiday_is_the_local_date_of_the_instant() -> None:
    # 23:30 UTC on Sunday 22nd is already Monday 23rd in Berlin.
    monday = date(2026, 11, 23)
    always = Schedule(windows=tuple(WeeklyWindow(d, 0, 1440) for d in range(7)))
    closed = Schedule(windows=always.windows, holidays=frozenset({monday}))
    at = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert is_open(always, at, BERLIN)
    assert not is_open(closed, at, BERLIN)
    assert is_open(closed, at, "UTC")


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(OFFICE, datetime(2026, 11, 23, 9, 0), BERLIN)


@pytest.mark.parametrize(
    "tz", ["Mars/Olympus", "", "../etc/passwd", "/etc/localtime", "Europe", "zone.tab", "utc",
           "Europe//Berlin", "Europe/Berlin\x00", "x" * 200]
)  # fmt: skip
def test_unknown_timezone_is_a_validation_error(tz: str) -> None:
    with pytest.raises(ValidationError) as info:
        is_open(OFFICE, datetime(2026, 11, 23, 9, 0, tzinfo=UTC), tz)
    assert info.value.field == "timezone"


# --- DST, known answers -------------------------------------------------------------


def _open_minutes(schedule: Schedule, tz: str, start_utc: datetime, hours: int) -> int:
    return sum(is_open(schedule, start_utc + timedelta(minutes=m), tz) for m in range(hours * 60))


@pytest.mark.parametrize(
    ("tz", "sunday", "real_minutes"),
    [
        (BERLIN, date(2026, 3, 29), 120),  # 02:00 -> 03:00 skipped: 01:00-04:00 lasts 2 h
        (BERLIN, date(2026, 10, 25), 240),  # 02:00-03:00 twice: it lasts 4 h
        (NEW_YORK, date(2026, 3, 8), 120),
        (NEW_YORK, date(2026, 11, 1), 240),
    ],
)
def test_wall_clock_window_over_dst(tz: str, sunday: date, real_minutes: int) -> None:
    window = Schedule(windows=(WeeklyWindow(SUN, 60, 4 * 60),))
    start = datetime(sunday.year, sunday.month, sunday.day, tzinfo=UTC) - timedelta(hours=12)
    assert _open_minutes(window, tz, start, 36) == real_minutes


def test_repeated_wall_clock_time_open_in_both_occurrences() -> None:
    # Berlin, 2026-10-25: 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    window = Schedule(windows=(WeeklyWindow(SUN, 2 * 60 + 15, 2 * 60 + 45),))
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert is_open(window, first, BERLIN)
    assert is_open(window, second, BERLIN)
    assert not is_open(window, datetime(2026, 10, 25, 1, 0, tzinfo=UTC), BERLIN)  # 02:00 CET


# --- properties --------------------------------------------------------------------

windows_st = st.builds(
    WeeklyWindow,
    weekday=st.integers(0, 6),
    start_minute=st.integers(0, 1439),
    end_minute=st.integers(1, 1440),
)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)
zones = st.sampled_from(ZONES)


@FAST
@given(
    at=instants,
    tz=zones,
    holidays=st.frozensets(st.dates(date(2019, 12, 30), date(2036, 1, 2)), max_size=20),
    crossing=st.booleans(),
)
def test_full_week_open_except_holidays(
    at: datetime, tz: str, holidays: frozenset[date], crossing: bool
) -> None:
    windows = tuple(
        WeeklyWindow(d, 300, 300) if crossing else WeeklyWindow(d, 0, 1440) for d in range(7)
    )
    schedule = Schedule(windows=windows, holidays=holidays)
    local_day = at.astimezone(ZoneInfo(tz)).date()
    assert is_open(schedule, at, tz) is (local_day not in holidays)


@FAST
@given(
    windows=st.lists(windows_st, max_size=4),
    at=instants,
    tz=zones,
    other=zones,
)
def test_same_instant_in_another_zone_same_answer(
    windows: list[WeeklyWindow], at: datetime, tz: str, other: str
) -> None:
    schedule = Schedule(windows=tuple(windows), holidays=frozenset({at.date()}))
    assert is_open(schedule, at, tz) is is_open(schedule, at.astimezone(ZoneInfo(other)), tz)


@FAST
@given(
    weekday=st.integers(0, 6),
    start=st.integers(1, 1439),
    data=st.data(),
    at=instants,
    tz=zones,
)
def test_crossing_window_is_union_of_halves(
    weekday: int, start: int, data: st.DataObject, at: datetime, tz: str
) -> None:
    end = data.draw(st.integers(1, start))  # end <= start: the window crosses midnight
    crossing = Schedule(windows=(WeeklyWindow(weekday, start, end),))
    halves = Schedule(
        windows=(WeeklyWindow(weekday, start, 1440), WeeklyWindow((weekday + 1) % 7, 0, end))
    )
    assert is_open(crossing, at, tz) is is_open(halves, at, tz)


DST_DAYS = {
    BERLIN: [datetime(2026, 3, 29), datetime(2026, 10, 25), datetime(2027, 3, 28)],
    NEW_YORK: [datetime(2026, 3, 8), datetime(2026, 11, 1), datetime(2027, 11, 7)],
}


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from(sorted(DST_DAYS)),
    data=st.data(),
    window=windows_st.filter(lambda w: w.end_minute > w.start_minute),
    fold=st.integers(0, 1),
)
def test_dst_windows_keep_wall_clock_meaning(
    tz: str, data: st.DataObject, window: WeeklyWindow, fold: int
) -> None:
    # Pick a wall-clock minute within a day of a transition; the verdict must depend on
    # that wall-clock reading alone, whichever occurrence (fold) of it is meant.
    day = data.draw(st.sampled_from(DST_DAYS[tz]))
    wall = day + timedelta(minutes=data.draw(st.integers(-24 * 60, 48 * 60 - 1)))
    at = wall.replace(tzinfo=ZoneInfo(tz), fold=fold)
    reread = at.astimezone(UTC).astimezone(ZoneInfo(tz)).replace(tzinfo=None)
    if reread != wall:
        return  # a wall-clock time skipped by the spring change never happens
    minute = wall.hour * 60 + wall.minute
    expected = (
        wall.weekday() == window.weekday and window.start_minute <= minute < window.end_minute
    )
    schedule = Schedule(windows=(window,))
    assert is_open(schedule, at, tz) is expected
    assert is_open(schedule, at.astimezone(UTC), tz) is expected
