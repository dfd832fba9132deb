"""Webhook signatures: HMAC-SHA256 over "<unix time>.<body>".

The header reads ``t=<unix seconds>,v1=<hex digest>``. Binding the timestamp
into the MAC lets receivers refuse replays older than their tolerance.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Passgate-Signature"
EVENT_HEADER = "Passgate-Event"
DELIVERY_HEADER = "Passgate-Delivery"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, header: str, body: bytes, *, now: int, tolerance_s: int = 300) -> bool:
    """True when ``header`` is a valid signature of ``body`` made within the tolerance."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp_text, given = parts.get("t", ""), parts.get("v1", "")
    if not timestamp_text.isdigit() or not given:
        return False
    timestamp = int(timestamp_text)
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)
