"""Version parsing and the R5 device prerequisites."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passgate.domain.errors import PreconditionFailed, ValidationError
from passgate.domain.versions import (
    MIN_APP,
    MIN_IOS,
    check_device_prerequisites,
    parse_version,
    version_at_least,
)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("46.10", (46, 10)),
        ("17.0.1", (17, 0, 1)),
        ("17", (17,)),
        ("1.2.3.4", (1, 2, 3, 4)),
        ("0", (0,)),
        ("999999999.0", (999999999, 0)),
    ],
)
def test_parse_version(text: str, parsed: tuple[int, ...]) -> None:
    assert parse_version(text, "app_version") == parsed


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "version"),
        ("46.", "numbers separated by dots"),
        (".46", "numbers separated by dots"),
        ("46..1", "numbers separated by dots"),
        ("v46", "numbers separated by dots"),
        ("46.x", "numbers separated by dots"),
        ("-1", "numbers separated by dots"),
        ("46.-1", "numbers separated by dots"),
        ("+46", "numbers separated by dots"),
        (" 46.0", "numbers separated by dots"),
        ("46.0\n", "numbers separated by dots"),
        ("46,0", "numbers separated by dots"),
        ("\u0664\u0666.0", "numbers separated by dots"),  # Arabic-Indic digits
        ("1.2.3.4.5", "at most 4"),
        ("1234567890.0", "at most 9 digits"),
    ],
)
def test_parse_version_rejects(text: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule) as info:
        parse_version(text, "app_version")
    assert info.value.field == "app_version"


def test_parse_version_rejects_non_string() -> None:
    with pytest.raises(ValidationError):
        parse_version(46, "app_version")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "minimum", "expected"),
    [
        ("17", "17.0.0", True),
        ("17.0.0", "17", True),
        ("46.10", "46.9", True),
        ("46.9", "46.10", False),
        ("100.0", "46.0", True),
        ("5.0", "46.0", False),
        ("16.7", "17.0", False),
        ("17.0.1", "17.0", True),
    ],
)
def test_version_at_least(value: str, minimum: str, expected: bool) -> None:
    assert version_at_least(value, minimum, "v") is expected


@pytest.mark.parametrize("app", ["46.0", "46.10", "100.0", "46", "46.0.0.1"])
def test_accepted_app_versions(app: str) -> None:
    check_device_prerequisites("17.0.1", app)


@pytest.mark.parametrize("ios", ["17.0.1", "17.0", "17", "18.2", "26.1"])
def test_accepted_ios_versions(ios: str) -> None:
    check_device_prerequisites(ios, MIN_APP)


@pytest.mark.parametrize("app", ["45.9", "5.0", "45.99.99"])
def test_refused_app_versions(app: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        check_device_prerequisites(MIN_IOS, app)
    assert info.value.code == "app_too_old"
    assert info.value.field == "app_version"
    assert "46 or later is required" in info.value.message
    assert app in info.value.message


@pytest.mark.parametrize("ios", ["16.7", "9.3", "16.99.1"])
def test_refused_ios_versions(ios: str) -> None:
    with pytest.raises(PreconditionFailed) as info:
        check_device_prerequisites(ios, "100.0")
    assert info.value.code == "ios_too_old"
    assert info.value.field == "ios_version"
    assert info.value.message == f"iOS 17 or later is required; this iPhone runs iOS {ios}"


def test_ios_checked_before_app() -> None:
    with pytest.raises(PreconditionFailed) as info:
        check_device_prerequisites("16.7", "45.0")
    assert info.value.code == "ios_too_old"


@pytest.mark.parametrize(
    ("ios", "app", "field"),
    [
        ("seventeen", "46.0", "ios_version"),
        ("17.0", "46.x", "app_version"),
        ("", "", "ios_version"),
    ],
)
def test_garbage_versions_name_the_field(ios: str, app: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_device_prerequisites(ios, app)
    assert info.value.field == field


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_text_parses_or_raises_validation_error(text: str) -> None:
    try:
        parsed = parse_version(text, "v")
    except ValidationError as exc:
        assert exc.field == "v"
        return
    assert ".".join(str(n) for n in parsed).count(".") == text.count(".")
    assert 1 <= len(parsed) <= 4


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 10**9 - 1), min_size=1, max_size=4),
    st.lists(st.integers(0, 10**9 - 1), min_size=1, max_size=4),
)
def test_comparison_matches_zero_padded_tuples(a: list[int], b: list[int]) -> None:
    width = max(len(a), len(b))
    padded_a = a + [0] * (width - len(a))
    padded_b = b + [0] * (width - len(b))
    expected = padded_a >= padded_b
    text_a = ".".join(map(str, a))
    text_b = ".".join(map(str, b))
    assert version_at_least(text_a, text_b, "v") is expected
