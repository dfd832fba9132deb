"""SSO rules that need no crypto: MFA proof (R2), ID token claim checks, login records.

Signature verification happens in the adapters; what a verified assertion *means*
is decided here, so the same rules serve OIDC and SAML and are testable alone.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from passgate.domain.errors import Unauthenticated


class Protocol(StrEnum):
    OIDC = "oidc"
    SAML = "saml"


class Purpose(StrEnum):
    BROWSER = "browser"  # dashboard: ends with a session cookie
    APP = "app"  # mobile app: ends with a one-time code for the app's PKCE exchange


# RFC 8176 amr values (and the widespread "fido") that mean a factor beyond the password.
DEFAULT_OIDC_MFA: tuple[str, ...] = ("mfa", "otp", "hwk", "swk", "fido", "sc", "pop")
# SAML AuthnContextClassRef values that common IdPs emit for multi-factor logins.
DEFAULT_SAML_MFA: tuple[str, ...] = (
    "https://refeds.org/profile/mfa",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
    "http://schemas.microsoft.com/claims/multipleauthn",
)

# How far clocks may disagree when judging exp/iat/NotOnOrAfter.
CLOCK_LEEWAY = timedelta(seconds=60)


class LoginRefused(Unauthenticated):
    """An SSO login failed a check; ``reason`` is a stable, secret-free label for the audit log."""

    code = "sso_login_failed"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def default_accepted_mfa(protocol: str) -> list[str]:
    return list(DEFAULT_SAML_MFA if protocol == Protocol.SAML else DEFAULT_OIDC_MFA)


@dataclass(frozen=True)
class MfaVerdict:
    proven: bool
    methods: tuple[str, ...]  # what the IdP said (amr + acr, or class refs), for the session


def evaluate_oidc_mfa(amr: Any, acr: Any, accepted: Iterable[str]) -> MfaVerdict:
    """R2: MFA is proven when an amr value or the acr is on the organization's accepted list."""
    values = [a for a in amr if isinstance(a, str)] if isinstance(amr, list) else []
    if isinstance(acr, str) and acr:
        values.append(acr)
    allowed = set(accepted)
    return MfaVerdict(proven=any(v in allowed for v in values), methods=tuple(values))


def evaluate_saml_mfa(class_refs: Iterable[str], accepted: Iterable[str]) -> MfaVerdict:
    refs = tuple(class_refs)
    allowed = set(accepted)
    return MfaVerdict(proven=any(r in allowed for r in refs), methods=refs)


def _instant(claims: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    # bool is an int in Python; a boolean timestamp is garbage, not 1970.
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise LoginRefused(f"bad_{name}", f"the ID token's {name} claim is missing or not a time")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise LoginRefused(f"bad_{name}", f"the ID token's {name} claim is out of range") from exc


def check_id_token_claims(
    claims: Mapping[str, Any],
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    now: datetime,
    max_auth_age: timedelta,
) -> datetime:
    """OIDC Core 3.1.3.7 checks that need no key; returns the auth_time to record."""
    if claims.get("iss") != issuer:
        raise LoginRefused("wrong_issuer", "the ID token was issued by another provider")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if client_id not in audiences:
        raise LoginRefused("wrong_audience", "the ID token is meant for another client")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise LoginRefused("wrong_audience", "the ID token's authorized party is another client")
    exp = _instant(claims, "exp", required=True)
    iat = _instant(claims, "iat", required=True)
    assert exp is not None and iat is not None
    if now >= exp + CLOCK_LEEWAY:
        raise LoginRefused("expired", "the ID token has expired")
    if iat > now + CLOCK_LEEWAY:
        raise LoginRefused("issued_in_future", "the ID token was issued in the future")
    given = claims.get("nonce")
    if not isinstance(given, str) or not given:
        raise LoginRefused("missing_nonce", "the ID token carries no nonce")
    # Constant-time is not needed for a nonce (it is not a credential), but it costs nothing.
    if not hmac.compare_digest(given.encode(), nonce.encode()):
        raise LoginRefused("nonce_mismatch", "the ID token's nonce does not match this login")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 200:
        raise LoginRefused("bad_sub", "the ID token's subject is missing or invalid")
    auth_time = _instant(claims, "auth_time", required=False) or iat
    if now - auth_time > max_auth_age:
        raise LoginRefused("auth_time_too_old", "the identity provider's sign-in is too old")
    return auth_time


def check_saml_freshness(authn_instant: datetime | None, now: datetime, max_age: timedelta) -> None:
    if authn_instant is not None and now - authn_instant > max_age:
        raise LoginRefused("auth_time_too_old", "the identity provider's sign-in is too old")


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the IdP vouched for, after every cryptographic and claim check passed."""

    protocol: str
    idp: str
    subject: str
    email: str | None  # only when the IdP vouches for it (email_verified / configured attribute)
    mfa: MfaVerdict
    auth_time: datetime


# --- Records kept between the redirect to the IdP and its answer --------------------------


@dataclass
class SsoLoginState:
    """One login in flight; found by the hash of the opaque ``state`` sent to the IdP."""

    id: str  # SHA-256 of the state value
    org_id: str
    protocol: str
    purpose: str
    nonce: str  # OIDC nonce, or the SAML AuthnRequest id (InResponseTo)
    verifier_sealed: str | None  # our PKCE verifier towards the IdP, sealed
    app_challenge: str | None  # the app's PKCE challenge (purpose app)
    app_redirect_uri: str | None
    app_state: str | None
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None


@dataclass
class SamlAssertionSeen:
    """Replay cache: an assertion id is accepted once per organization until it expires."""

    id: str
    org_id: str
    assertion_id: str
    issuer: str
    expires_at: datetime
    created_at: datetime


@dataclass
class AppAuthorizationCode:
    """The one-time code the app trades, with its PKCE verifier, for an app session."""

    id: str  # SHA-256 of the code
    org_id: str
    member_id: str
    challenge: str
    redirect_uri: str
    proof: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
