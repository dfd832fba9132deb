"""What Passgate keeps, and for how long: the retention job's rules.

Rows that only grow, pruned by the worker about once an hour:

- Wallet log lines: after the retention period (``PASSGATE_RETENTION_DAYS``, 30 days).
- Sign-ins in flight and the app's one-time codes: once expired (ten minutes), they
  prove nothing any more.
- The SAML assertion-id replay cache: once the assertion itself has expired (plus the
  clock leeway), replaying it is refused by its expiry anyway.
- Sessions: the retention period after they ended (expired or revoked); until then they
  explain the audit trail's session ids.
- Delivered outbox messages: the retention period after delivery.
- Rate-limit windows: once the window of their last counted request has passed.

Audit and access events are never pruned here: the event log is the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from passgate.domain.sso import CLOCK_LEEWAY
from passgate.services.ports import RetentionStore


@dataclass(frozen=True)
class Rule:
    table: str
    column: str
    keep: timedelta  # kept this long after the time in ``column``


def rules(retention: timedelta) -> tuple[Rule, ...]:
    zero = timedelta(0)
    return (
        Rule("wallet_logs", "created_at", retention),
        Rule("sso_login_states", "expires_at", zero),
        Rule("sso_app_codes", "expires_at", zero),
        Rule("sso_saml_assertions", "expires_at", CLOCK_LEEWAY),
        Rule("sessions", "absolute_expires_at", retention),
        Rule("sessions", "idle_expires_at", retention),
        Rule("sessions", "revoked_at", retention),
        Rule("outbox", "delivered_at", retention),
        Rule("rate_limits", "expires_at", zero),
    )


def prune(store: RetentionStore, retention: timedelta, now: datetime) -> dict[str, int]:
    """Apply every rule once; returns how many rows each table lost."""
    removed: dict[str, int] = {}
    for rule in rules(retention):
        count = store.delete_before(rule.table, rule.column, now - rule.keep)
        removed[rule.table] = removed.get(rule.table, 0) + count
    return removed
