"""Whether an organization may use Apple Passes right now (R1, R3).

Eligibility is recomputed from facts (SSO settings, subscriptions, the current instant)
rather than stored as a flag, so losing and regaining it needs no extra bookkeeping:
passes stop working the moment a fact turns false and work again when it turns true.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from passgate.domain.errors import ValidationError
from passgate.domain.schedule import require_aware

APPLE_PASS_KIND = "apple_pass"  # noqa: S105 (a subscription kind, not a password)
SUBSCRIPTION_STATUSES: frozenset[str] = frozenset({"active", "pending", "cancelled"})

SSO_NOT_CONFIGURED = "sso_not_configured"
SSO_NOT_ENFORCED = "sso_not_enforced"
MFA_NOT_REQUIRED = "mfa_not_required"
NO_APPLE_PASS_SUBSCRIPTION = "no_apple_pass_subscription"  # noqa: S105 (a reason code, not a password)
SUBSCRIPTION_NOT_ACTIVE = "subscription_not_active"
SUBSCRIPTION_NOT_STARTED = "subscription_not_started"
SUBSCRIPTION_EXPIRED = "subscription_expired"

# When several subscriptions fail for different reasons, report the most telling one:
# "expired" explains why passes that worked until now stopped, "not started" says a
# subscription is booked but its window is ahead, "not active" (pending or cancelled)
# is the least specific.
_SUBSCRIPTION_PRIORITY: tuple[str, ...] = (
    SUBSCRIPTION_EXPIRED,
    SUBSCRIPTION_NOT_STARTED,
    SUBSCRIPTION_NOT_ACTIVE,
)

ELIGIBILITY_MESSAGES: dict[str, str] = {
    SSO_NOT_CONFIGURED: "Single sign-on is not configured for this organization.",
    SSO_NOT_ENFORCED: "Single sign-on is configured but not enforced for every member.",
    MFA_NOT_REQUIRED: "Single sign-on does not require multi-factor authentication.",
    NO_APPLE_PASS_SUBSCRIPTION: "The organization has no Apple Pass subscription.",
    SUBSCRIPTION_NOT_ACTIVE: "The Apple Pass subscription has not been activated or was cancelled.",
    SUBSCRIPTION_NOT_STARTED: "The Apple Pass subscription has not started yet.",
    SUBSCRIPTION_EXPIRED: "The Apple Pass subscription has expired.",
}


@dataclass(frozen=True)
class SubscriptionView:
    kind: str
    status: str  # one of "active", "pending", "cancelled"
    valid_from: datetime
    valid_until: datetime | None  # None = open-ended


@dataclass(frozen=True)
class Eligibility:
    eligible: bool
    reasons: tuple[str, ...]


def _subscription_problem(sub: SubscriptionView, index: int, now: datetime) -> str | None:
    """Why this Apple Pass subscription does not qualify at ``now``, or None if it does."""
    field = f"subscriptions[{index}]"
    if sub.status not in SUBSCRIPTION_STATUSES:
        allowed = ", ".join(sorted(SUBSCRIPTION_STATUSES))
        raise ValidationError(f"{field}.status must be one of: {allowed}", field=f"{field}.status")
    require_aware(sub.valid_from, f"{field}.valid_from")
    if sub.valid_until is not None:
        require_aware(sub.valid_until, f"{field}.valid_until")
    # Status first: a cancelled subscription is dead whatever its dates say.
    if sub.status != "active":
        return SUBSCRIPTION_NOT_ACTIVE
    if now < sub.valid_from:
        return SUBSCRIPTION_NOT_STARTED
    if sub.valid_until is not None and now >= sub.valid_until:
        return SUBSCRIPTION_EXPIRED
    return None


def subscription_reason(subscriptions: Sequence[SubscriptionView], now: datetime) -> str | None:
    """None if an Apple Pass subscription qualifies at ``now``, else the most useful reason."""
    require_aware(now, "now")
    problems: set[str] = set()
    seen_apple_pass = False
    qualified = False
    for index, sub in enumerate(subscriptions):
        if sub.kind != APPLE_PASS_KIND:
            continue
        seen_apple_pass = True
        # Every subscription is validated, not just those before a qualifying one, so a
        # malformed entry is reported whatever its position.
        problem = _subscription_problem(sub, index, now)
        if problem is None:
            qualified = True
        else:
            problems.add(problem)
    if qualified:
        return None
    if not seen_apple_pass:
        return NO_APPLE_PASS_SUBSCRIPTION
    return next(reason for reason in _SUBSCRIPTION_PRIORITY if reason in problems)


def apple_pass_eligibility(
    *,
    sso_configured: bool,
    sso_enforced: bool,
    mfa_required: bool,
    subscriptions: Sequence[SubscriptionView],
    now: datetime,
) -> Eligibility:
    """R1: SSO configured, enforced, with MFA required, AND a current subscription.

    Reasons come in a stable order (SSO facts, then the subscription) and every failing
    SSO fact is listed, so the dashboard can show the whole to-do list at once.
    """
    reasons: list[str] = []
    if sso_configured is not True:
        reasons.append(SSO_NOT_CONFIGURED)
    if sso_enforced is not True:
        reasons.append(SSO_NOT_ENFORCED)
    if mfa_required is not True:
        reasons.append(MFA_NOT_REQUIRED)
    problem = subscription_reason(subscriptions, now)
    if problem is not None:
        reasons.append(problem)
    return Eligibility(eligible=not reasons, reasons=tuple(reasons))
