"""The remote-unlock frame of the reader link, sans-IO.

An administrator's unlock command reaches the door's reader as one signed frame::

    {"type": "unlock", "reader_id", "door_id", "command_id", "expires_at_ms", "nonce", "sig"}

signed like the cache frames (ECDSA P-256 / SHA-256 over the canonical JSON without
``sig``) by the organization's reader key, and bound to the connection by ``nonce``, the
nonce the reader sent with its auth answer. A frame recorded on an earlier connection,
for another reader, past its expiry, or carrying an expiry further out than
``MAX_LIFETIME_MS`` is refused, and so is a second frame with a command id already
taken on this connection. The reader answers ``unlock_result`` with ``ok`` and one of
``RESULT_REASONS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.proto.snapshot import SnapshotError, canonical, sign, verify

# The reader refuses a command that claims to stay valid longer than this: a command is
# for "open the door now", not a key to be kept.
MAX_LIFETIME_MS = 120_000
MAX_ID = 40

# What an unlock result (and the reader's remote_unlock event) may say.
GRANTED = "granted"
RESULT_REASONS = frozenset(
    {
        GRANTED,
        "door_lockdown",  # the reader's cache says the door is locked down
        "reader_tampered",  # the reader's tamper latch is set (R14)
        "cache_stale",  # no cache, or older than the door's staleness limit
        "wrong_door",  # the reader's cache names another door
        "expired",  # the command arrived after its expiry
        "relay_fault",  # decided to unlock, the relay driver failed: the door stayed locked
    }
)


@dataclass(frozen=True)
class UnlockCommand:
    command_id: str
    door_id: str
    expires_at_ms: int


@dataclass(frozen=True)
class Refused:
    """The frame was not taken; ``answerable`` when it is authentic enough to reply to."""

    reason: str
    answerable: bool = False


def make_unlock(
    key: ec.EllipticCurvePrivateKey,
    *,
    reader_id: str,
    door_id: str,
    command_id: str,
    expires_at_ms: int,
    link_nonce: str,
) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "unlock",
        "reader_id": reader_id,
        "door_id": door_id,
        "command_id": command_id,
        "expires_at_ms": expires_at_ms,
        "nonce": link_nonce,
    }
    frame["sig"] = sign(key, canonical(frame))
    return frame


def _short_id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isprintable()


def check_unlock(
    server_key: ec.EllipticCurvePublicKey,
    frame: Any,
    *,
    reader_id: str,
    link_nonce: str | None,
    now_ms: int,
    taken: set[str],
) -> UnlockCommand | Refused:
    """Verify an unlock frame for this reader and connection; never raises.

    ``taken`` holds the command ids already accepted on this connection; an accepted
    frame adds its id, so a resent frame pulses the relay once.
    """
    if not isinstance(frame, Mapping) or frame.get("type") != "unlock":
        return Refused("malformed")
    sig = frame.get("sig")
    command_id, door_id = frame.get("command_id"), frame.get("door_id")
    expires = frame.get("expires_at_ms")
    if not (isinstance(sig, str) and _short_id(command_id) and _short_id(door_id)):
        return Refused("malformed")
    if not isinstance(expires, int) or isinstance(expires, bool) or expires < 0:
        return Refused("malformed")
    try:
        message = canonical({k: v for k, v in frame.items() if k != "sig"})
    except SnapshotError:
        return Refused("malformed")
    if not verify(server_key, sig, message):
        return Refused("bad_signature")
    if frame.get("reader_id") != reader_id:
        return Refused("wrong_reader")
    if link_nonce is None or frame.get("nonce") != link_nonce:
        return Refused("replayed")  # signed for another connection
    assert isinstance(command_id, str) and isinstance(door_id, str)
    if command_id in taken:
        return Refused("replayed")
    if expires - now_ms > MAX_LIFETIME_MS:
        return Refused("lifetime")
    taken.add(command_id)
    if now_ms > expires:
        return Refused("expired", answerable=True)
    return UnlockCommand(command_id=command_id, door_id=door_id, expires_at_ms=expires)
