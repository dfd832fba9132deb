"""Who is calling: every service command receives an Actor and records it in audit events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from passgate.domain.errors import PermissionDenied, PreconditionFailed


class ActorKind(StrEnum):
    OPERATOR = "operator"
    API_KEY = "api_key"
    MEMBER = "member"
    READER = "reader"
    SYSTEM = "system"


_WRITE_ROLES = {"admin", "owner"}


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: str
    name: str
    org_id: str | None
    role: str
    session_id: str | None = None
    # "app" or "browser" for a member's session: an app session acts as the member only.
    session_kind: str | None = None
    # When the identity provider last proved a second factor for this session (R2).
    mfa_at: datetime | None = None

    @property
    def is_operator(self) -> bool:
        return self.kind is ActorKind.OPERATOR

    def require_operator(self) -> None:
        if not self.is_operator:
            raise PermissionDenied("this action is reserved to the service operator")

    def require_org(self) -> str:
        if self.org_id is None:
            raise PermissionDenied("this action needs an organization API key")
        return self.org_id

    def require_fresh_mfa(self, now: datetime, max_age: timedelta) -> None:
        """R4: some actions need a multi-factor login proven by the IdP within ``max_age``."""
        if self.mfa_at is None:
            raise PreconditionFailed(
                "this action needs a sign-in with multi-factor authentication proven by your "
                "organization's identity provider; this session was single-factor",
                code="mfa_required",
            )
        if now - self.mfa_at > max_age:
            minutes = int(max_age.total_seconds() // 60)
            raise PreconditionFailed(
                f"this action needs a multi-factor sign-in from the last {minutes} minutes; "
                "sign in again",
                code="mfa_not_fresh",
            )

    def require_write(self) -> None:
        if self.role not in _WRITE_ROLES:
            raise PermissionDenied(f"role {self.role!r} may read but not change anything")


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="passgate", org_id=None, role="owner")
