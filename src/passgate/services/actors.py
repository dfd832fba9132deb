"""Who is calling: every service command receives an Actor and records it in audit events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from passgate.domain.errors import PermissionDenied


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

    def require_write(self) -> None:
        if self.role not in _WRITE_ROLES:
            raise PermissionDenied(f"role {self.role!r} may read but not change anything")


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system", name="passgate", org_id=None, role="owner")
