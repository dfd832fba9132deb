"""APNs provider API, sans-IO: push requests, ES256 provider tokens, response classes.

Wallet pass updates are "empty" pushes: Apple delivers nothing to the user, the device
merely learns that a pass of the topic (the pass type identifier) changed and asks the
PassKit web service what changed. So the body is always ``{}`` and the only interesting
parts are the device token in the path and the headers.

Nothing here opens sockets or reads the clock: the current time is always a parameter.
Pushes may arrive late or never; revocation is enforced by readers, not by this code.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from passgate.errors import ProtocolError, ValidationError

PRODUCTION_URL: Final = "https://api.push.apple.com"
DEVELOPMENT_URL: Final = "https://api.sandbox.push.apple.com"

PUSH_TYPES: Final = frozenset(
    {
        "alert",
        "background",
        "complication",
        "controls",
        "fileprovider",
        "liveactivity",
        "location",
        "mdm",
        "pushtotalk",
        "voip",
        "widgets",
    }
)
PRIORITIES: Final = frozenset({1, 5, 10})

# Apple refuses provider tokens older than an hour and rate-limits refreshes to about one
# per 20 minutes, so refreshing after 50 minutes keeps a margin on both sides.
TOKEN_REFRESH_AFTER_S: Final = 50 * 60
TOKEN_MAX_AGE_S: Final = 60 * 60
# Tolerated clock skew for an "issued at" in the future (receiver side).
TOKEN_FUTURE_SKEW_S: Final = 60

_TOKEN_RE: Final = re.compile(r"[0-9A-Fa-f]{64,200}")
_TOPIC_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,254}")
_ID_RE: Final = re.compile(r"[A-Za-z0-9]{1,64}")
_REASON_RE: Final = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_B64URL_RE: Final = re.compile(r"[A-Za-z0-9_\-]*")
_P256_COORD: Final = 32


class ApnsProtocolError(ProtocolError):
    """A peer sent something that is not valid APNs; ``reason`` is the APNs reason string."""

    code = "apns_protocol_error"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ProviderTokenError(ApnsProtocolError):
    """A provider token is missing, malformed, badly signed or too old.

    ``reason`` is one of ``MissingProviderToken``, ``InvalidProviderToken`` or
    ``ExpiredProviderToken``, the words APNs itself answers with in a 403.
    """

    code = "apns_provider_token"


@dataclass(frozen=True, slots=True)
class PushRequest:
    """One request to the provider API, minus authentication and host."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What to do after a push attempt.

    ``unregister`` means the device token is dead: drop that PassKit registration.
    ``retryable`` means the same push may succeed later (after backoff, or at once with a
    fresh provider token when ``needs_new_token``). Anything else is a permanent failure.
    """

    delivered: bool
    retryable: bool
    unregister: bool
    reason: str | None
    status: int = 0
    # For 410 answers: when APNs learnt the token was dead (ms since the epoch). A device
    # that registered again after that moment must be kept.
    timestamp_ms: int | None = None
    attempts: int = 1
    apns_id: str | None = field(default=None, compare=False)

    @property
    def needs_new_token(self) -> bool:
        return self.reason == "ExpiredProviderToken"


@dataclass(frozen=True, slots=True)
class ProviderClaims:
    """The verified content of a provider token."""

    team_id: str
    key_id: str
    issued_at: int


def is_valid_push_token(push_token: str) -> bool:
    return _TOKEN_RE.fullmatch(push_token) is not None


def validate_topic(topic: str) -> str:
    """Return ``topic`` if it can be an apns-topic (a bundle or pass type identifier)."""
    if _TOPIC_RE.fullmatch(topic) is None:
        raise ValidationError(
            "topic must be a pass type or bundle identifier (letters, digits, '.', '-', '_')",
            field="topic",
        )
    return topic


def build_push(
    push_token: str,
    *,
    topic: str,
    priority: int = 5,
    expiration: int | None = None,
    push_type: str = "background",
) -> PushRequest:
    """Build the request telling a device that passes of ``topic`` changed."""
    if not is_valid_push_token(push_token):
        raise ValidationError(
            "push_token must be 64 to 200 hexadecimal characters", field="push_token"
        )
    validate_topic(topic)
    if push_type not in PUSH_TYPES:
        raise ValidationError(f"push_type must be one of {sorted(PUSH_TYPES)}", field="push_type")
    if isinstance(priority, bool) or priority not in PRIORITIES:
        raise ValidationError("priority must be 1, 5 or 10", field="priority")
    # APNs rejects background pushes sent with priority 10.
    if push_type == "background" and priority == 10:
        raise ValidationError("background pushes must use priority 1 or 5", field="priority")
    headers = {
        "apns-topic": topic,
        "apns-push-type": push_type,
        "apns-priority": str(priority),
    }
    if expiration is not None:
        if isinstance(expiration, bool) or expiration < 0:
            raise ValidationError(
                "expiration must be a UNIX time in seconds, or 0", field="expiration"
            )
        headers["apns-expiration"] = str(expiration)
    return PushRequest(path=f"/3/device/{push_token.lower()}", headers=headers, body=b"{}")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if _B64URL_RE.fullmatch(text) is None or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _require_p256(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValidationError("provider token keys must be P-256 (ES256)", field="private_key")


def make_provider_token(
    *, team_id: str, key_id: str, private_key: ec.EllipticCurvePrivateKey, issued_at: int
) -> str:
    """Return an ES256 JWT for token-based APNs authentication.

    The signature is deterministic (RFC 6979) so tokens have known answers in tests;
    that costs nothing in security, and Apple verifies any valid ES256 signature.
    """
    if _ID_RE.fullmatch(team_id) is None:
        raise ValidationError("team_id must be 1 to 64 letters or digits", field="team_id")
    if _ID_RE.fullmatch(key_id) is None:
        raise ValidationError("key_id must be 1 to 64 letters or digits", field="key_id")
    if isinstance(issued_at, bool) or issued_at < 0:
        raise ValidationError("issued_at must be a UNIX time in seconds", field="issued_at")
    _require_p256(private_key)
    header = json.dumps({"alg": "ES256", "kid": key_id}, separators=(",", ":"))
    claims = json.dumps({"iss": team_id, "iat": issued_at}, separators=(",", ":"))
    signing_input = f"{_b64url(header.encode())}.{_b64url(claims.encode())}"
    der = private_key.sign(
        signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(_P256_COORD, "big") + s.to_bytes(_P256_COORD, "big")
    return f"{signing_input}.{_b64url(raw)}"


def _json_object(segment: str) -> dict[str, object]:
    try:
        value = json.loads(_b64url_decode(segment))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ProviderTokenError(
            "provider token segment is not base64url JSON", reason="InvalidProviderToken"
        ) from exc
    if not isinstance(value, dict):
        raise ProviderTokenError(
            "provider token segment is not a JSON object", reason="InvalidProviderToken"
        )
    return value


def verify_provider_token(
    token: str,
    public_key: ec.EllipticCurvePublicKey,
    now: int,
    max_age_s: int = TOKEN_MAX_AGE_S,
) -> ProviderClaims:
    """Check a provider token as APNs would; raise ProviderTokenError on any defect."""
    _require_p256(public_key)
    if not token:
        raise ProviderTokenError("no provider token", reason="MissingProviderToken")
    parts = token.split(".")
    if len(parts) != 3:
        raise ProviderTokenError(
            "provider token must have three segments", reason="InvalidProviderToken"
        )
    header, claims = _json_object(parts[0]), _json_object(parts[1])
    # Only ES256 is accepted: the algorithm is pinned, never taken from the token.
    if header.get("alg") != "ES256" or not isinstance(header.get("kid"), str):
        raise ProviderTokenError(
            "provider token header must be ES256 with a kid", reason="InvalidProviderToken"
        )
    iss, iat = claims.get("iss"), claims.get("iat")
    if not isinstance(iss, str) or not isinstance(iat, int) or isinstance(iat, bool):
        raise ProviderTokenError("provider token needs iss and iat", reason="InvalidProviderToken")
    try:
        raw = _b64url_decode(parts[2])
    except (ValueError, binascii.Error) as exc:
        raise ProviderTokenError("bad signature encoding", reason="InvalidProviderToken") from exc
    if len(raw) != 2 * _P256_COORD:
        raise ProviderTokenError("bad signature length", reason="InvalidProviderToken")
    der = encode_dss_signature(
        int.from_bytes(raw[:_P256_COORD], "big"), int.from_bytes(raw[_P256_COORD:], "big")
    )
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    try:
        public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise ProviderTokenError(
            "bad provider token signature", reason="InvalidProviderToken"
        ) from exc
    # Age is checked after the signature so an attacker learns nothing from the answer.
    if iat > now + TOKEN_FUTURE_SKEW_S:
        raise ProviderTokenError(
            "provider token issued in the future", reason="InvalidProviderToken"
        )
    if now - iat > max_age_s:
        raise ProviderTokenError("provider token too old", reason="ExpiredProviderToken")
    return ProviderClaims(team_id=iss, key_id=str(header["kid"]), issued_at=iat)


class ProviderTokenCache:
    """Hands out one provider token and replaces it after ``refresh_after_s`` seconds.

    APNs treats a token refreshed too often (``TooManyProviderTokenUpdates``) as an error,
    so every push shares the cached token; ``invalidate`` forces a new one only if the
    token being reported stale is still the current one, so many concurrent pushes that
    all saw ``ExpiredProviderToken`` cause a single refresh.
    """

    def __init__(
        self,
        *,
        team_id: str,
        key_id: str,
        private_key: ec.EllipticCurvePrivateKey,
        refresh_after_s: int = TOKEN_REFRESH_AFTER_S,
    ) -> None:
        if refresh_after_s <= 0 or refresh_after_s >= TOKEN_MAX_AGE_S:
            raise ValidationError(
                "refresh_after_s must be between 1 and 3599 seconds", field="refresh_after_s"
            )
        _require_p256(private_key)
        self._team_id = team_id
        self._key_id = key_id
        self._private_key = private_key
        self._refresh_after_s = refresh_after_s
        self._token: str | None = None
        self._issued_at = 0

    def token(self, now: int) -> str:
        # A clock that went backwards also forces a new token: the old iat could look
        # "from the future" to APNs.
        age = now - self._issued_at
        if self._token is None or age >= self._refresh_after_s or age < 0:
            self._token = make_provider_token(
                team_id=self._team_id,
                key_id=self._key_id,
                private_key=self._private_key,
                issued_at=now,
            )
            self._issued_at = now
        return self._token

    def invalidate(self, token: str) -> None:
        if token == self._token:
            self._token = None


def _parse_error_body(body: bytes) -> tuple[str | None, int | None]:
    """Return (reason, timestamp) from an APNs error body; garbage yields (None, None)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None, None
    if not isinstance(value, dict):
        return None, None
    reason = value.get("reason")
    timestamp = value.get("timestamp")
    good_reason = reason if isinstance(reason, str) and _REASON_RE.fullmatch(reason) else None
    good_time = (
        timestamp
        if isinstance(timestamp, int) and not isinstance(timestamp, bool) and timestamp >= 0
        else None
    )
    return good_reason, good_time


_UNREGISTER_400: Final = frozenset({"BadDeviceToken", "DeviceTokenNotForTopic"})


def classify_response(status: int, body: bytes) -> PushOutcome:
    """Map an APNs answer to what the caller should do next. Never raises."""
    if status == 200:
        return PushOutcome(
            delivered=True, retryable=False, unregister=False, reason=None, status=200
        )
    reason, timestamp = _parse_error_body(body)
    retryable = False
    unregister = False
    if status == 410:
        unregister = True
        reason = reason or "Unregistered"
    elif status == 400 and reason in _UNREGISTER_400:
        unregister = True
    elif status == 403 and reason == "ExpiredProviderToken":
        retryable = True
    elif status == 429 or 500 <= status <= 599:
        # 429 is a per-device rate limit and 5xx an APNs-side failure: both pass.
        retryable = True
    return PushOutcome(
        delivered=False,
        retryable=retryable,
        unregister=unregister,
        reason=reason,
        status=status,
        timestamp_ms=timestamp if unregister else None,
    )


def transport_failure(reason: str) -> PushOutcome:
    """The outcome of an attempt that got no HTTP answer (connection lost, timeout)."""
    return PushOutcome(delivered=False, retryable=True, unregister=False, reason=reason, status=0)
