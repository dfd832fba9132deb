"""Per-protocol checks of the IdP's answer, turning it into a VerifiedIdentity.

The adapters verify signatures; the rules (claims, MFA proof, replay) are applied
here and in ``domain.sso``, inside the login's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.domain import sso as d
from passgate.services.ports import UnitOfWork
from passgate.services.signin.sso_login import SsoDeps, Verifier, callback_url, saml_settings


def oidc_verifier(deps: SsoDeps, *, code: str, base_url: str, slug: str) -> Verifier:
    def verify(
        uow: UnitOfWork, conn: m.SsoConnection, record: d.SsoLoginState, now: datetime
    ) -> d.VerifiedIdentity:
        if not code:
            raise d.LoginRefused("missing_code", "the identity provider returned no code")
        issuer = str(conn.settings["issuer"])
        client_id = str(conn.settings["client_id"])
        secret = deps.box.open(conn.secret_sealed).decode() if conn.secret_sealed else None
        verifier = deps.box.open(record.verifier_sealed or "").decode()
        claims = deps.oidc.exchange_code(
            issuer,
            client_id=client_id,
            client_secret=secret,
            code=code,
            redirect_uri=callback_url(base_url, slug),
            code_verifier=verifier,
        )
        max_age = timedelta(seconds=int(conn.settings.get("max_auth_age_s", 3600)))
        auth_time = d.check_id_token_claims(
            claims,
            issuer=issuer,
            client_id=client_id,
            nonce=record.nonce,
            now=now,
            max_auth_age=max_age,
        )
        mfa = d.evaluate_oidc_mfa(claims.get("amr"), claims.get("acr"), conn.accepted_mfa)
        email_claim = str(conn.settings.get("email_attribute", "email"))
        email = claims.get(email_claim)
        verified = claims.get("email_verified") is True
        return d.VerifiedIdentity(
            protocol=d.Protocol.OIDC.value,
            idp=issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) and verified else None,
            mfa=mfa,
            auth_time=auth_time,
        )

    return verify


def saml_verifier(deps: SsoDeps, *, saml_response: str, base_url: str, slug: str) -> Verifier:
    def verify(
        uow: UnitOfWork, conn: m.SsoConnection, record: d.SsoLoginState, now: datetime
    ) -> d.VerifiedIdentity:
        if not saml_response:
            raise d.LoginRefused("missing_response", "the identity provider sent no response")
        assertion = deps.saml.parse_response(
            saml_settings(conn, base_url, slug),
            saml_response=saml_response,
            request_id=record.nonce,
            now=now,
        )
        seen = uow.repo(d.SamlAssertionSeen)
        if seen.count(assertion_id=assertion.assertion_id) > 0:
            raise d.LoginRefused("replayed_assertion", "this SAML assertion was already used")
        seen.add(
            d.SamlAssertionSeen(
                id=m.new_id("saml"),
                org_id=conn.org_id,
                assertion_id=assertion.assertion_id,
                issuer=assertion.issuer,
                expires_at=assertion.not_on_or_after,
                created_at=now,
            )
        )
        max_age = timedelta(seconds=int(conn.settings.get("max_auth_age_s", 3600)))
        d.check_saml_freshness(assertion.authn_instant, now, max_age)
        mfa = d.evaluate_saml_mfa(assertion.class_refs, conn.accepted_mfa)
        email_attr = str(conn.settings.get("email_attribute", "email"))
        emails = assertion.attributes.get(email_attr) or []
        return d.VerifiedIdentity(
            protocol=d.Protocol.SAML.value,
            idp=assertion.issuer,
            subject=assertion.name_id,
            email=emails[0] if emails else None,
            mfa=mfa,
            auth_time=assertion.authn_instant or now,
        )

    return verify
