"""The domain's exception hierarchy.

Every layer raises these; the web layer translates them to HTTP in one table
(``passgate.web.errors``), the CLI prints them, readers turn them into denies.
Each error carries a stable machine-readable ``code`` and, when one input is to
blame, the ``field`` it came from, so a caller can fix exactly that input.
"""

from __future__ import annotations


class PassgateError(Exception):
    """Base of every error the product raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class ValidationError(PassgateError):
    """An input breaks a rule; ``field`` names the input and the message the rule."""

    code = "validation_error"


class NotFound(PassgateError):
    """The object does not exist, or belongs to another organization (never say which)."""

    code = "not_found"


class Conflict(PassgateError):
    """The request contradicts the current state (duplicate, still referenced...)."""

    code = "conflict"


class PermissionDenied(PassgateError):
    """The caller is known but its role does not allow this action."""

    code = "permission_denied"


class Unauthenticated(PassgateError):
    """No credentials, or credentials that do not verify."""

    code = "unauthenticated"


class PreconditionFailed(PassgateError):
    """A product rule refuses the action in the current state (for example R1 to R7)."""

    code = "precondition_failed"


class TooManyRequests(PassgateError):
    """The caller went over a rate limit; it may try again later."""

    code = "rate_limited"
