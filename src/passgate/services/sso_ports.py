"""What the SSO services need from outside: an OIDC relying party, a SAML service provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


class OidcRelyingParty(Protocol):
    def authorization_url(
        self,
        issuer: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        state: str,
        nonce: str,
        code_challenge: str,
        max_age_s: int,
    ) -> str: ...

    def exchange_code(
        self,
        issuer: str,
        *,
        client_id: str,
        client_secret: str | None,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The ID token's claims, signature verified; raises LoginRefused otherwise."""


@dataclass(frozen=True)
class SamlAssertion:
    """A SAML response whose signature, audience, recipient, InResponseTo and times verified."""

    issuer: str
    assertion_id: str
    name_id: str
    class_refs: tuple[str, ...]
    authn_instant: datetime | None
    not_on_or_after: datetime
    attributes: dict[str, list[str]]


@dataclass(frozen=True)
class SamlSettings:
    idp_entity_id: str
    idp_sso_url: str | None
    idp_certificate: str | None
    idp_metadata_xml: str | None
    sp_entity_id: str
    acs_url: str


class SamlServiceProvider(Protocol):
    def authn_request(self, settings: SamlSettings, *, relay_state: str) -> tuple[str, str]:
        """(AuthnRequest id, redirect URL to the IdP)."""

    def parse_response(
        self, settings: SamlSettings, *, saml_response: str, request_id: str, now: datetime
    ) -> SamlAssertion:
        """Verify a base64 SAMLResponse posted to the ACS; raises LoginRefused otherwise."""


class SecretBox(Protocol):
    def seal(self, plaintext: bytes) -> str: ...

    def open(self, sealed: str) -> bytes: ...
