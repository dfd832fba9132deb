"""App sign-in: the mobile app's own authorization code + PKCE exchange with Passgate.

After the SSO login, Passgate redirects to the app with a one-time code that is
stored hashed, bound to the app's S256 challenge and redirect URI, and lives 60
seconds. The app trades it, with its verifier, for an app session token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlencode

from passgate.domain import model as m
from passgate.domain import sso as d
from passgate.domain.errors import Unauthenticated, ValidationError
from passgate.services.auth.sessions import IssuedSession, LoginProof, SessionPolicy, start_session
from passgate.services.ports import UnitOfWork, UnitOfWorkFactory

CODE_TTL = timedelta(seconds=60)
_INVALID = "the authorization code is invalid, expired or already used"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def s256(verifier: str) -> str:
    """RFC 7636 S256 code challenge."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def validate_app_request(
    challenge: str, method: str, redirect_uri: str, allowed: list[str]
) -> None:
    if method != "S256":
        raise ValidationError("code_challenge_method must be S256", field="code_challenge_method")
    if not 43 <= len(challenge) <= 128:
        raise ValidationError("code_challenge must be 43 to 128 characters", field="code_challenge")
    if redirect_uri not in allowed:
        raise ValidationError("redirect_uri is not a registered app redirect", field="redirect_uri")


def issue_code(
    uow: UnitOfWork, record: d.SsoLoginState, member: m.Member, proof: LoginProof, now: datetime
) -> str:
    """Store a one-time code for the app; returns the app redirect carrying it."""
    assert record.app_challenge and record.app_redirect_uri
    # The organization id travels in the code so the exchange finds its tenant.
    code = f"{member.org_id}.{secrets.token_urlsafe(32)}"
    uow.repo(d.AppAuthorizationCode).add(
        d.AppAuthorizationCode(
            id=sha256_hex(code),
            org_id=member.org_id,
            member_id=member.id,
            challenge=record.app_challenge,
            redirect_uri=record.app_redirect_uri,
            proof={
                "protocol": proof.protocol,
                "idp": proof.idp,
                "mfa_proven": proof.mfa_proven,
                "methods": list(proof.methods),
                "auth_time": proof.auth_time.isoformat(),
            },
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    )
    query = urlencode({"code": code, "state": record.app_state or ""})
    sep = "&" if "?" in record.app_redirect_uri else "?"
    return f"{record.app_redirect_uri}{sep}{query}"


def exchange_code(
    uow_factory: UnitOfWorkFactory,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    policy: SessionPolicy,
    now: datetime,
) -> IssuedSession:
    org_id, _, _ = code.partition(".")
    if not org_id.startswith("org_") or len(org_id) > 40:
        raise Unauthenticated(_INVALID)
    with uow_factory(org_id) as uow:
        repo = uow.repo(d.AppAuthorizationCode)
        grant = repo.find(sha256_hex(code))
        if grant is None or grant.used_at is not None or now >= grant.expires_at:
            raise Unauthenticated(_INVALID)
        # Burn the code first: a wrong verifier also consumes it (no guessing rounds).
        grant.used_at = now
        repo.update(grant)
    with uow_factory(org_id) as uow:
        if not hmac.compare_digest(s256(code_verifier).encode(), grant.challenge.encode()):
            raise Unauthenticated("code_verifier does not match the code challenge")
        if not hmac.compare_digest(redirect_uri.encode(), grant.redirect_uri.encode()):
            raise Unauthenticated("redirect_uri does not match the authorization request")
        member = uow.repo(m.Member).get(grant.member_id)
        p = grant.proof
        proof = LoginProof(
            protocol=str(p["protocol"]),
            idp=str(p["idp"]),
            mfa_proven=bool(p["mfa_proven"]),
            methods=tuple(str(x) for x in p["methods"]),
            auth_time=datetime.fromisoformat(str(p["auth_time"])),
        )
        return start_session(
            uow, member=member, kind=m.SessionKind.APP, proof=proof, policy=policy, now=now
        )
