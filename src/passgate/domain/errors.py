"""The domain's view of the error vocabulary, which lives in ``passgate.errors``.

Re-exported here so domain and service code can keep importing its errors from
its own layer; the classes are the same objects.
"""

from __future__ import annotations

from passgate.errors import (
    Conflict,
    LocalProtocolError,
    NotFound,
    PassgateError,
    PermissionDenied,
    PreconditionFailed,
    ProtocolError,
    RemoteProtocolError,
    TooManyRequests,
    Unauthenticated,
    ValidationError,
    WriteConflict,
)

__all__ = [
    "Conflict",
    "LocalProtocolError",
    "NotFound",
    "PassgateError",
    "PermissionDenied",
    "PreconditionFailed",
    "ProtocolError",
    "RemoteProtocolError",
    "TooManyRequests",
    "Unauthenticated",
    "ValidationError",
    "WriteConflict",
]
