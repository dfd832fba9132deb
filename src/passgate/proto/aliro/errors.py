"""The one exception the Aliro protocol code raises on bad peer input or misuse."""

from __future__ import annotations

from passgate.errors import ProtocolError


class AliroError(ProtocolError):
    """A message that breaks the protocol, or a state-machine call out of order.

    Messages never contain key material or secret-derived bytes.
    """

    code = "aliro_error"
