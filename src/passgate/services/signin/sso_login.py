"""SSO login, browser and app: redirect to the IdP, verify its answer, map it to a member.

A login in flight is a row keyed by the hash of the opaque ``state`` (OIDC) or
RelayState (SAML) together with a binding value the browser that started it holds in
a cookie, so a callback carried to another browser (login CSRF: the victim signed in as
the attacker) finds no login. It is single use, consumed in its own transaction before
the IdP's answer is checked (a refused callback cannot be retried), and expires after
ten minutes. Every refused login is recorded as an ``sso.login_failed`` audit event with
a stable reason and no secrets, in its own transaction so the refusal survives.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.domain import sso as d
from passgate.domain.errors import NotFound, PassgateError
from passgate.services.actors import Actor, ActorKind
from passgate.services.auth.sessions import IssuedSession, LoginProof, SessionPolicy, start_session
from passgate.services.events import audit
from passgate.services.ports import (
    Clock,
    OidcRelyingParty,
    SamlServiceProvider,
    SamlSettings,
    SecretBox,
    UnitOfWork,
    UnitOfWorkFactory,
)
from passgate.services.signin.sso_app import issue_code, s256, sha256_hex

LOGIN_TTL = timedelta(minutes=10)


# Checks the IdP's answer for one protocol: (uow, connection, login, now) -> identity.
Verifier = Callable[[UnitOfWork, m.SsoConnection, d.SsoLoginState, datetime], d.VerifiedIdentity]


@dataclass(frozen=True)
class SsoDeps:
    uow_factory: UnitOfWorkFactory
    clock: Clock
    box: SecretBox
    oidc: OidcRelyingParty
    saml: SamlServiceProvider
    browser_policy: SessionPolicy


@dataclass(frozen=True)
class AppRequest:
    challenge: str
    redirect_uri: str
    state: str


@dataclass(frozen=True)
class LoginOutcome:
    org_id: str
    purpose: str
    session: IssuedSession | None  # browser logins
    app_redirect: str | None  # app logins: the app's redirect URI with code and state


def _sso_actor(org_id: str) -> Actor:
    return Actor(kind=ActorKind.SYSTEM, id="sso", name="sso login", org_id=org_id, role="member")


def callback_url(base_url: str, slug: str) -> str:
    return f"{base_url.rstrip('/')}/sso/{slug}/oidc/callback"


def saml_settings(conn: m.SsoConnection, base_url: str, slug: str) -> SamlSettings:
    s = conn.settings
    root = f"{base_url.rstrip('/')}/sso/{slug}/saml"
    return SamlSettings(
        idp_entity_id=str(s["idp_entity_id"]),
        idp_sso_url=s.get("idp_sso_url"),
        idp_certificate=s.get("idp_certificate"),
        idp_metadata_xml=s.get("idp_metadata_xml"),
        sp_entity_id=f"{root}/metadata",
        acs_url=f"{root}/acs",
    )


def _org_and_connection(uow_factory: UnitOfWorkFactory, slug: str) -> tuple[str, m.SsoConnection]:
    with uow_factory(None, write=False) as uow:
        org = uow.organizations.find_by_slug(slug)
    if org is None:
        raise NotFound("organization not found", field="org")
    with uow_factory(org.id, write=False) as uow:
        conns = uow.repo(m.SsoConnection).all_where(enabled=True)
    if not conns:
        raise NotFound("this organization has no enabled SSO connection", field="org")
    return org.id, conns[0]


def _state_key(state: str, binding: str) -> str:
    return sha256_hex(f"{state}\x00{binding}")


def begin_login(
    deps: SsoDeps,
    *,
    slug: str,
    purpose: d.Purpose,
    base_url: str,
    binding: str,
    app: AppRequest | None = None,
) -> str:
    """Record the login in flight and return the IdP URL to redirect the browser to.

    ``binding`` is a random value the caller hands the browser in a cookie; the
    callback must bring it back.
    """
    org_id, conn = _org_and_connection(deps.uow_factory, slug)
    now = deps.clock.now()
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)
    if conn.protocol == d.Protocol.OIDC:
        nonce = secrets.token_urlsafe(24)
        url = deps.oidc.authorization_url(
            str(conn.settings["issuer"]),
            client_id=str(conn.settings["client_id"]),
            redirect_uri=callback_url(base_url, slug),
            scope=str(conn.settings.get("scope", "openid email")),
            state=state,
            nonce=nonce,
            code_challenge=s256(verifier),
            max_age_s=int(conn.settings.get("max_auth_age_s", 3600)),
        )
    else:
        nonce, url = deps.saml.authn_request(saml_settings(conn, base_url, slug), relay_state=state)
    record = d.SsoLoginState(
        id=_state_key(state, binding),
        org_id=org_id,
        protocol=conn.protocol,
        purpose=purpose.value,
        nonce=nonce,
        verifier_sealed=deps.box.seal(verifier.encode()),
        app_challenge=app.challenge if app else None,
        app_redirect_uri=app.redirect_uri if app else None,
        app_state=app.state if app else None,
        created_at=now,
        expires_at=now + LOGIN_TTL,
    )
    with deps.uow_factory(org_id) as uow:
        uow.repo(d.SsoLoginState).add(record)
    return url


def _claim_state(
    uow: UnitOfWork, state: str, binding: str, protocol: str, now: datetime
) -> d.SsoLoginState:
    repo = uow.repo(d.SsoLoginState)
    record = repo.find(_state_key(state, binding)) if state and binding else None
    if record is None or record.protocol != protocol:
        raise d.LoginRefused(
            "unknown_state",
            "this sign-in is unknown or was started in another browser; start again",
        )
    if record.consumed_at is not None:
        raise d.LoginRefused("replayed_state", "this sign-in was already used; start again")
    if now >= record.expires_at:
        raise d.LoginRefused("expired_state", "this sign-in took too long; start again")
    record.consumed_at = now
    repo.update(record)
    return record


def _record_failure(deps: SsoDeps, org_id: str, protocol: str, exc: PassgateError) -> None:
    reason = exc.reason if isinstance(exc, d.LoginRefused) else exc.code
    with deps.uow_factory(org_id) as uow:
        audit(
            uow,
            _sso_actor(org_id),
            org_id=org_id,
            type="sso.login_failed",
            object_type="organization",
            object_id=org_id,
            now=deps.clock.now(),
            after={"protocol": protocol, "reason": reason, "message": exc.message},
        )


def _find_member(uow: UnitOfWork, identity: d.VerifiedIdentity) -> m.Member:
    repo = uow.repo(m.Member)
    by_subject = repo.all_where(external_id=identity.subject)
    member = by_subject[0] if by_subject else None
    if member is None and identity.email:
        by_email = repo.all_where(email=identity.email) or repo.all_where(
            email=identity.email.lower()
        )
        # An email match binds the subject once; a member already bound to another
        # subject is not taken over by a second IdP account with the same address.
        if by_email and by_email[0].external_id in (None, identity.subject):
            member = by_email[0]
            member.external_id = identity.subject
            repo.update(member)
    if member is None:
        raise d.LoginRefused("unknown_user", "no member of this organization matches this login")
    if member.status != m.MemberStatus.ACTIVE:
        raise d.LoginRefused("member_deactivated", "this member is deactivated")
    return member


def complete_login(
    deps: SsoDeps,
    *,
    slug: str,
    protocol: d.Protocol,
    state: str,
    binding: str,
    verify: Verifier,
) -> LoginOutcome:
    """Shared tail of both protocols: claim the state, verify, map the member, start."""
    org_id, conn = _org_and_connection(deps.uow_factory, slug)
    try:
        with deps.uow_factory(org_id) as uow:
            # Committed on its own: whatever the IdP's answer, this state is spent.
            record = _claim_state(uow, state, binding, protocol.value, deps.clock.now())
        with deps.uow_factory(org_id) as uow:
            now = deps.clock.now()
            identity = verify(uow, conn, record, now)
            org = uow.organizations.get(org_id)
            if org.mfa_required and not identity.mfa.proven:
                raise d.LoginRefused(
                    "mfa_required", "this organization requires a multi-factor sign-in"
                )
            member = _find_member(uow, identity)
            proof = LoginProof(
                protocol=identity.protocol,
                idp=identity.idp,
                mfa_proven=identity.mfa.proven,
                methods=identity.mfa.methods,
                auth_time=identity.auth_time,
            )
            if record.purpose == d.Purpose.APP:
                redirect = issue_code(uow, record, member, proof, now)
                return LoginOutcome(org_id, record.purpose, None, redirect)
            issued = start_session(
                uow,
                member=member,
                kind=m.SessionKind.BROWSER,
                proof=proof,
                policy=deps.browser_policy,
                now=now,
            )
            return LoginOutcome(org_id, record.purpose, issued, None)
    except d.LoginRefused as exc:
        _record_failure(deps, org_id, protocol.value, exc)
        raise
