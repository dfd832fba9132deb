"""SSO routes: browser login (OIDC callback, SAML ACS), logout, app sign-in, the config API.

Routes stay thin: the services verify; here we only move values between HTTP
and the services and set the session cookies (HttpOnly session, readable CSRF).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi import Path as FastPath
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from passgate.domain.errors import TooManyRequests
from passgate.domain.sso import LoginRefused, Protocol, Purpose
from passgate.services.actors import Actor
from passgate.services.container import Container
from passgate.services.rate_limit import SSO_FAILED_LOGINS, SSO_FAILED_WINDOW
from passgate.services.signin import sso as sso_config
from passgate.services.signin.sso_app import validate_app_request
from passgate.services.signin.sso_login import (
    AppRequest,
    LoginOutcome,
    Verifier,
    begin_login,
    complete_login,
)
from passgate.services.signin.sso_verify import oidc_verifier, saml_verifier
from passgate.web.api import API_PREFIX
from passgate.web.deps import CSRF_COOKIE, SESSION_COOKIE, ActorDep, ContainerDep, cookie_name

Short = Annotated[str, Field(min_length=1, max_length=500)]
OrgId = Annotated[str, FastPath(min_length=1, max_length=40)]


class ConnectionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    protocol: Literal["oidc", "saml"]
    enabled: StrictBool = True
    accepted_mfa: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None, max_length=50
    )
    issuer: Short | None = None
    client_id: Short | None = None
    client_secret: Short | None = None
    scope: Short | None = None
    max_auth_age_s: Annotated[int, Field(ge=60, le=30 * 86400)] | None = None
    email_attribute: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    idp_entity_id: Short | None = None
    idp_sso_url: Short | None = None
    idp_certificate: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    idp_metadata_xml: Annotated[str, Field(min_length=1, max_length=200_000)] | None = None


class SettingsBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    sso_enforced: StrictBool | None = None
    mfa_required: StrictBool | None = None


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    code: Annotated[str, Field(min_length=1, max_length=200)]
    code_verifier: Annotated[str, Field(min_length=43, max_length=128)]
    redirect_uri: Annotated[str, Field(min_length=1, max_length=2000)]


# The browser that starts a sign-in keeps this random value; the callback must bring it
# back (login CSRF). SameSite=None over https: a SAML response arrives as a cross-site
# POST from the IdP, which SameSite=Lax cookies do not accompany.
BINDING_COOKIE = "passgate_sso_binding"
_BINDING_PATH = "/sso/"


def _bound(request: Request, url: str, binding: str) -> RedirectResponse:
    """The redirect to the IdP, leaving ``binding`` with the browser."""
    response = RedirectResponse(url, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        cookie_name(request, BINDING_COOKIE, path_root=False),
        binding,
        max_age=600,
        path=_BINDING_PATH,
        secure=secure,
        httponly=True,
        samesite="none" if secure else "lax",
    )
    return response


def _binding_of(request: Request) -> str:
    return request.cookies.get(cookie_name(request, BINDING_COOKIE, path_root=False), "")[:100]


FAILED_LOGINS = SSO_FAILED_LOGINS  # per organization and source (services.rate_limit)
FAILED_WINDOW = SSO_FAILED_WINDOW


def _browser_done(request: Request, outcome: LoginOutcome) -> Response:
    # The binding cookie stays until it expires: its login is spent, and a replay from
    # this browser is then told apart (replayed_state) from a foreign one.
    if outcome.app_redirect is not None:
        return RedirectResponse(outcome.app_redirect, status_code=303)
    assert outcome.session is not None
    response = RedirectResponse("/", status_code=303)
    secure = request.url.scheme == "https"
    max_age = int(
        (
            outcome.session.session.absolute_expires_at - outcome.session.session.created_at
        ).total_seconds()
    )
    response.set_cookie(
        cookie_name(request, SESSION_COOKIE),
        outcome.session.token,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )
    # Readable by the dashboard's scripts on purpose: they echo it in X-CSRF-Token.
    response.set_cookie(
        cookie_name(request, CSRF_COOKIE),
        secrets.token_urlsafe(32),
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=False,
        samesite="lax",
    )
    return response


def sp_metadata_xml(base_url: str, slug: str) -> str:
    root = f"{base_url.rstrip('/')}/sso/{quote(slug, safe='')}/saml"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f"entityID={quoteattr(root + '/metadata')}>"
        '<md:SPSSODescriptor WantAssertionsSigned="true" '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location={quoteattr(root + "/acs")} index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def router() -> APIRouter:
    r = APIRouter()

    def finish(
        request: Request, c: Container, slug: str, protocol: Protocol, state: str, verify: Verifier
    ) -> Response:
        """The callbacks' shared tail: the failure limit, then the login, then the cookies."""
        source = request.client.host if request.client else "unknown"
        key, now, failures = f"{slug}\x00{source}", c.clock.now(), c.sso_failures
        if failures.exhausted(key, now):
            raise TooManyRequests(
                "too many failed sign-ins from here for this organization; try again later"
            )
        try:
            outcome = complete_login(
                c.sso,
                slug=slug,
                protocol=protocol,
                state=state,
                binding=_binding_of(request),
                verify=verify,
            )
        except LoginRefused:
            failures.allow(key, now)  # counts the failure
            raise
        return _browser_done(request, outcome)

    @r.get("/sso/{slug}/login", include_in_schema=False)
    def browser_login(slug: str, request: Request, c: ContainerDep) -> RedirectResponse:
        binding = secrets.token_urlsafe(32)
        url = begin_login(
            c.sso,
            slug=slug,
            purpose=Purpose.BROWSER,
            base_url=c.settings.public_url,
            binding=binding,
        )
        return _bound(request, url, binding)

    @r.get("/sso/{slug}/oidc/callback", include_in_schema=False)
    def oidc_callback(
        slug: str,
        request: Request,
        c: ContainerDep,
        state: Annotated[str, Query(max_length=200)] = "",
        code: Annotated[str, Query(max_length=2000)] = "",
    ) -> Response:
        base = c.settings.public_url
        verify = oidc_verifier(c.sso, code=code, base_url=base, slug=slug)
        return finish(request, c, slug, Protocol.OIDC, state, verify)

    @r.post("/sso/{slug}/saml/acs", include_in_schema=False)
    def saml_acs(
        slug: str,
        request: Request,
        c: ContainerDep,
        SAMLResponse: Annotated[str, Form(max_length=200_000)] = "",
        RelayState: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        base = c.settings.public_url
        verify = saml_verifier(c.sso, saml_response=SAMLResponse, base_url=base, slug=slug)
        return finish(request, c, slug, Protocol.SAML, RelayState, verify)

    @r.get("/sso/{slug}/saml/metadata", include_in_schema=False)
    def saml_metadata(slug: str, c: ContainerDep) -> Response:
        """Our SP metadata (entity id and ACS), for the IdP administrator to import."""
        xml = sp_metadata_xml(c.settings.public_url, slug)
        return Response(xml, media_type="application/samlmetadata+xml")

    @r.post("/sso/logout", include_in_schema=False, operation_id="browser_logout")
    def browser_logout(request: Request, who: ActorDep, c: ContainerDep) -> Response:
        if who.session_id is None:
            return Response(status_code=204)
        c.sso_commands.sign_out(who)
        response = Response(status_code=204)
        secure = request.url.scheme == "https"
        for base in (SESSION_COOKIE, CSRF_COOKIE):
            response.delete_cookie(cookie_name(request, base), path="/", secure=secure)
        return response

    # --- the mobile app ---------------------------------------------------------------

    # A browser redirect (opened by the app in a web view), not a JSON API: kept out of
    # the OpenAPI document like the other /sso pages.
    @r.get(f"{API_PREFIX}/app/authorize", status_code=303, include_in_schema=False)
    def app_authorize(
        request: Request,
        c: ContainerDep,
        org: Annotated[str, Query(min_length=1, max_length=63)],
        code_challenge: Annotated[str, Query(min_length=1, max_length=200)],
        redirect_uri: Annotated[str, Query(min_length=1, max_length=2000)],
        code_challenge_method: Annotated[str, Query(max_length=10)] = "S256",
        state: Annotated[str, Query(max_length=500)] = "",
    ) -> RedirectResponse:
        """Start the app's sign-in: redirects to the organization's identity provider."""
        validate_app_request(
            code_challenge, code_challenge_method, redirect_uri, c.settings.app_redirect_uris
        )
        binding = secrets.token_urlsafe(32)
        url = begin_login(
            c.sso,
            slug=org,
            purpose=Purpose.APP,
            base_url=c.settings.public_url,
            binding=binding,
            app=AppRequest(challenge=code_challenge, redirect_uri=redirect_uri, state=state),
        )
        return _bound(request, url, binding)

    @r.post(f"{API_PREFIX}/app/token", tags=["app sign-in"], operation_id="app_token")
    def app_token(body: TokenBody, c: ContainerDep) -> dict[str, Any]:
        """Trade the one-time code and the PKCE verifier for an app session token."""
        issued = c.sso_commands.app_token(
            code=body.code, code_verifier=body.code_verifier, redirect_uri=body.redirect_uri
        )
        return {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_at": issued.session.absolute_expires_at,
            "mfa_proven": issued.session.mfa_proven,
        }

    @r.post(
        f"{API_PREFIX}/app/logout", status_code=204, tags=["app sign-in"], operation_id="app_logout"
    )
    def app_logout(who: ActorDep, c: ContainerDep) -> Response:
        """Revoke the calling app session token."""
        c.sso_commands.sign_out(who)
        return Response(status_code=204)

    # --- configuration API --------------------------------------------------------------

    def _put(c: Container, who: Actor, org_id: str | None, body: ConnectionBody) -> dict[str, Any]:
        fields = body.model_dump(exclude={"protocol", "enabled", "accepted_mfa", "client_secret"})
        data = sso_config.ConnectionInput(
            protocol=body.protocol,
            enabled=body.enabled,
            accepted_mfa=body.accepted_mfa,
            settings=fields,
            client_secret=body.client_secret,
        )
        return c.sso_commands.put_connection(who, data, org_id=org_id)

    def _patch(c: Container, who: Actor, org_id: str | None, body: SettingsBody) -> dict[str, Any]:
        return c.sso_commands.set_flags(
            who, sso_enforced=body.sso_enforced, mfa_required=body.mfa_required, org_id=org_id
        )

    @r.put(
        f"{API_PREFIX}/organizations/{{org_id}}/sso/connection",
        tags=["sso"],
        operation_id="operator_put_sso_connection",
    )
    def operator_put_connection(
        org_id: OrgId, body: ConnectionBody, who: ActorDep, c: ContainerDep
    ) -> dict[str, Any]:
        """Operator: configure an organization's SSO connection (bootstrap)."""
        return _put(c, who, org_id, body)

    @r.patch(
        f"{API_PREFIX}/organizations/{{org_id}}/sso/settings",
        tags=["sso"],
        operation_id="operator_patch_sso_settings",
    )
    def operator_patch_settings(
        org_id: OrgId, body: SettingsBody, who: ActorDep, c: ContainerDep
    ) -> dict[str, Any]:
        """Operator: set an organization's sso_enforced / mfa_required."""
        return _patch(c, who, org_id, body)

    @r.get(f"{API_PREFIX}/sso", tags=["sso"], operation_id="get_sso")
    def get_sso(who: ActorDep, c: ContainerDep) -> dict[str, Any]:
        """The organization's SSO connection and its sso_enforced / mfa_required flags."""
        return c.sso_commands.view(who)

    @r.put(f"{API_PREFIX}/sso/connection", tags=["sso"], operation_id="put_sso_connection")
    def put_connection(body: ConnectionBody, who: ActorDep, c: ContainerDep) -> dict[str, Any]:
        """Create or replace the SSO connection (admin; a member session needs fresh MFA)."""
        return _put(c, who, None, body)

    @r.delete(
        f"{API_PREFIX}/sso/connection",
        status_code=204,
        tags=["sso"],
        operation_id="delete_sso_connection",
    )
    def delete_connection(who: ActorDep, c: ContainerDep) -> Response:
        """Remove the SSO connection (refused while SSO is enforced)."""
        c.sso_commands.delete_connection(who)
        return Response(status_code=204)

    @r.patch(f"{API_PREFIX}/sso/settings", tags=["sso"], operation_id="patch_sso_settings")
    def patch_settings(body: SettingsBody, who: ActorDep, c: ContainerDep) -> dict[str, Any]:
        """Set sso_enforced (needs an enabled connection) and mfa_required."""
        return _patch(c, who, None, body)

    return r
