"""Organization eligibility for Apple Passes (R1, R3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from passgate.domain.eligibility import (
    ELIGIBILITY_MESSAGES,
    Eligibility,
    SubscriptionView,
    apple_pass_eligibility,
)
from passgate.domain.errors import ValidationError

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)

CURRENT = SubscriptionView("apple_pass", "active", NOW - 30 * DAY, NOW + 30 * DAY)
OPEN_ENDED = SubscriptionView("apple_pass", "active", NOW - DAY, None)
EXPIRED = SubscriptionView("apple_pass", "active", NOW - 60 * DAY, NOW - DAY)
FUTURE = SubscriptionView("apple_pass", "active", NOW + DAY, None)
PENDING = SubscriptionView("apple_pass", "pending", NOW - DAY, None)
CANCELLED = SubscriptionView("apple_pass", "cancelled", NOW - DAY, None)
OTHER_KIND = SubscriptionView("analytics", "active", NOW - DAY, None)


def check(
    subscriptions: list[SubscriptionView],
    *,
    sso_configured: bool = True,
    sso_enforced: bool = True,
    mfa_required: bool = True,
    now: datetime = NOW,
) -> Eligibility:
    return apple_pass_eligibility(
        sso_configured=sso_configured,
        sso_enforced=sso_enforced,
        mfa_required=mfa_required,
        subscriptions=subscriptions,
        now=now,
    )


@pytest.mark.parametrize(
    "subs",
    [[CURRENT], [OPEN_ENDED], [OTHER_KIND, EXPIRED, CURRENT], [PENDING, OPEN_ENDED]],
    ids=["current", "open_ended", "one_of_many", "pending_and_active"],
)
def test_eligible(subs: list[SubscriptionView]) -> None:
    assert check(subs) == Eligibility(True, ())


@pytest.mark.parametrize(
    ("configured", "enforced", "mfa", "reasons"),
    [
        (False, True, True, ("sso_not_configured",)),
        (True, False, True, ("sso_not_enforced",)),
        (True, True, False, ("mfa_not_required",)),
        (False, False, False, ("sso_not_configured", "sso_not_enforced", "mfa_not_required")),
    ],
    ids=["not_configured", "not_enforced", "no_mfa", "all_three"],
)
def test_sso_reasons(configured: bool, enforced: bool, mfa: bool, reasons: tuple[str, ...]) -> None:
    result = check([CURRENT], sso_configured=configured, sso_enforced=enforced, mfa_required=mfa)
    assert result == Eligibility(False, reasons)


@pytest.mark.parametrize(
    ("subs", "reason"),
    [
        ([], "no_apple_pass_subscription"),
        ([OTHER_KIND], "no_apple_pass_subscription"),
        ([PENDING], "subscription_not_active"),
        ([CANCELLED], "subscription_not_active"),
        ([FUTURE], "subscription_not_started"),
        ([EXPIRED], "subscription_expired"),
        ([PENDING, FUTURE], "subscription_not_started"),
        ([FUTURE, EXPIRED, CANCELLED], "subscription_expired"),
        ([CANCELLED, EXPIRED], "subscription_expired"),
    ],
    ids=[
        "none",
        "other_kind_only",
        "pending",
        "cancelled",
        "not_started",
        "expired",
        "not_started_beats_not_active",
        "expired_beats_not_started",
        "expired_beats_not_active",
    ],
)
def test_subscription_reasons(subs: list[SubscriptionView], reason: str) -> None:
    assert check(subs) == Eligibility(False, (reason,))


def test_sso_reasons_come_before_subscription_reason() -> None:
    result = check([EXPIRED], mfa_required=False)
    assert result == Eligibility(False, ("mfa_not_required", "subscription_expired"))


def test_window_bounds() -> None:
    sub = SubscriptionView("apple_pass", "active", NOW, NOW + DAY)
    assert check([sub]).eligible
    assert check([sub], now=NOW - timedelta(microseconds=1)).reasons == (
        "subscription_not_started",
    )
    assert check([sub], now=NOW + DAY).reasons == ("subscription_expired",)


def test_eligibility_returns_when_facts_return() -> None:
    # R3: nothing is remembered; the same facts give the same answer again.
    assert not check([CURRENT], mfa_required=False).eligible
    assert check([CURRENT]).eligible


def test_every_reason_has_a_message() -> None:
    assert set(ELIGIBILITY_MESSAGES) == {
        "sso_not_configured",
        "sso_not_enforced",
        "mfa_not_required",
        "no_apple_pass_subscription",
        "subscription_not_active",
        "subscription_not_started",
        "subscription_expired",
    }


def test_unknown_status_is_a_validation_error_wherever_it_is() -> None:
    bad = SubscriptionView("apple_pass", "paused", NOW - DAY, None)
    with pytest.raises(ValidationError) as info:
        check([CURRENT, bad])
    assert info.value.field == "subscriptions[1].status"


@pytest.mark.parametrize(
    "subs",
    [
        [SubscriptionView("apple_pass", "active", datetime(2026, 1, 1), None)],
        [SubscriptionView("apple_pass", "active", NOW - DAY, datetime(2027, 1, 1))],
    ],
    ids=["valid_from", "valid_until"],
)
def test_naive_subscription_datetimes_are_refused(subs: list[SubscriptionView]) -> None:
    with pytest.raises(ValueError, match="aware"):
        check(subs)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        check([CURRENT], now=datetime(2026, 11, 23))
