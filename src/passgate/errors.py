"""The error vocabulary: the floor every layer stands on, protocol code included.

This module imports nothing of passgate, so ``passgate.proto`` can raise these
without reaching into the domain. Every layer raises these; the web layer
translates them to HTTP in one table (``passgate.web.errors``), the CLI prints
them, readers turn them into denies.
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


class WriteConflict(Conflict):
    """A concurrent transaction won a uniqueness race (the database refused this one's
    write); retrying the whole command applies it to the state that won."""


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


class ProtocolError(PassgateError):
    """A protocol exchange broke the rules of the wire format or the state machine."""

    code = "protocol_error"


class LocalProtocolError(ProtocolError):
    """Our side tried something the protocol forbids (a call out of order, a value
    that cannot be encoded): a bug or a misuse on this end, not the peer's fault."""

    code = "local_protocol_error"


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that break the protocol: untrusted input to refuse."""

    code = "remote_protocol_error"
