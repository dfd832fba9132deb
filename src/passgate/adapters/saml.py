"""SAML 2.0 service provider on pysaml2 (signatures checked by xmlsec1).

pysaml2 checks the assertion signature (required), audience, destination and
recipient against our ACS URL, InResponseTo against the one request we sent,
and NotOnOrAfter. Anything it rejects, or any exception parsing hostile XML,
becomes a LoginRefused: a peer sending garbage gets a refusal, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import shutil
import warnings
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

from passgate.domain.sso import CLOCK_LEEWAY, LoginRefused
from passgate.services.ports import SamlAssertion, SamlSettings

_MAX_RESPONSE = 200_000
# SHA-1 signatures and digests are forgeable in practice (chosen-prefix collisions).
_SHA1 = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#sha1",
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    }
)
_DSIG = "{http://www.w3.org/2000/09/xmldsig#}"


def refuse_sha1(saml_response: str) -> None:
    """Refuse a response whose signatures or digests use SHA-1, before xmlsec sees it.

    The XML is parsed (entities resolved, as xmlsec would) rather than searched as
    text, so an escaped algorithm name cannot slip past.
    """
    from defusedxml import ElementTree  # type: ignore[import-untyped]

    try:
        root = ElementTree.fromstring(base64.b64decode(saml_response, validate=True))
    except (binascii.Error, ValueError, ElementTree.ParseError) as exc:
        raise LoginRefused("invalid_response", "the SAML response is not readable XML") from exc
    for tag in ("SignatureMethod", "DigestMethod"):
        for element in root.iter(_DSIG + tag):
            if element.get("Algorithm", "").strip() in _SHA1:
                raise LoginRefused(
                    "weak_algorithm", "the SAML response is signed with SHA-1, which is refused"
                )


def _saml2() -> dict[str, ModuleType]:
    # pysaml2 imports a cipher mode cryptography has deprecated (CFB); silence exactly that.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="CFB has been moved", module=r"saml2\.cryptography\.symmetric"
        )
        import saml2
        import saml2.client
        import saml2.config
        import saml2.response
        import saml2.sigver
    return {"saml2": saml2, "client": saml2.client, "config": saml2.config}


def _pem_body(pem: str) -> str:
    lines = [ln.strip() for ln in pem.strip().splitlines() if ln.strip()]
    return "".join(ln for ln in lines if not ln.startswith("-----"))


def idp_metadata(settings: SamlSettings) -> str:
    """Minimal IdP metadata from entity id + SSO URL + signing certificate."""
    if settings.idp_metadata_xml:
        return settings.idp_metadata_xml
    from xml.sax.saxutils import quoteattr

    cert = _pem_body(settings.idp_certificate or "")
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
        f"entityID={quoteattr(settings.idp_entity_id)}>"
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f"Location={quoteattr(settings.idp_sso_url or '')}/>"
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


class PySaml2ServiceProvider:
    def __init__(self, xmlsec_binary: str | None = None) -> None:
        self._xmlsec = xmlsec_binary or shutil.which("xmlsec1") or "/usr/bin/xmlsec1"

    def _client(self, settings: SamlSettings) -> Any:
        mods = _saml2()
        saml2 = mods["saml2"]
        conf = {
            "entityid": settings.sp_entity_id,
            "xmlsec_binary": self._xmlsec,
            "metadata": {"inline": [idp_metadata(settings)]},
            "accepted_time_diff": int(CLOCK_LEEWAY.total_seconds()),
            "allow_unknown_attributes": True,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(settings.acs_url, saml2.BINDING_HTTP_POST)],
                    },
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "allow_unsolicited": False,
                    "authn_requests_signed": False,
                }
            },
        }
        cfg = mods["config"].SPConfig()
        try:
            cfg.load(conf)
        except Exception as exc:  # pysaml2 raises many types for bad metadata
            raise LoginRefused("bad_idp_metadata", "the IdP metadata is not usable") from exc
        return mods["client"].Saml2Client(config=cfg)

    def authn_request(self, settings: SamlSettings, *, relay_state: str) -> tuple[str, str]:
        saml2 = _saml2()["saml2"]
        client = self._client(settings)
        request_id, info = client.prepare_for_authenticate(
            entityid=settings.idp_entity_id,
            relay_state=relay_state,
            binding=saml2.BINDING_HTTP_REDIRECT,
        )
        location = dict(info["headers"])["Location"]
        return str(request_id), str(location)

    def parse_response(
        self, settings: SamlSettings, *, saml_response: str, request_id: str, now: datetime
    ) -> SamlAssertion:
        if len(saml_response) > _MAX_RESPONSE:
            raise LoginRefused("response_too_large", "the SAML response is too large")
        refuse_sha1(saml_response)
        saml2 = _saml2()["saml2"]
        client = self._client(settings)
        try:
            response = client.parse_authn_request_response(
                saml_response,
                saml2.BINDING_HTTP_POST,
                outstanding={request_id: settings.acs_url},
            )
        except Exception as exc:
            # pysaml2 signals every failed check with its own exception types (and
            # sometimes plain ones); all of them mean "refuse this login".
            raise LoginRefused(
                _reason_of(exc), f"the SAML response was refused: {_label(exc)}"
            ) from exc
        if response is None or response.assertion is None:
            raise LoginRefused("no_assertion", "the SAML response carries no assertion")
        return _assertion_of(response, settings, now)


def _label(exc: Exception) -> str:
    return type(exc).__name__


_REASON_BY_TYPE = {
    "SignatureError": "bad_signature",
    "MissingSignatureError": "unsigned",
    "IncorrectlySigned": "bad_signature",
    "InvalidAssertion": "invalid_assertion",
    "StatusError": "idp_error",
    "UnsolicitedResponse": "unsolicited",
    "ResponseLifetimeExceed": "expired",
    "ToEarly": "not_yet_valid",
}
# pysaml2 raises plain Exception / VerificationError for some checks; its message says which.
_REASON_BY_MESSAGE = {
    "AudienceRestrictions": "wrong_audience",
    "No valid recipient": "wrong_recipient",
    "No valid subject confirmation": "subject_not_confirmed",
    "Condition not OK": "conditions_not_met",
}


def _reason_of(exc: BaseException) -> str:
    # The most specific cause wins: "Condition not OK" wraps e.g. ResponseLifetimeExceed.
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 5:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    for item in chain:
        reason = _REASON_BY_TYPE.get(type(item).__name__)
        if reason is not None:
            return reason
    for item in chain:
        for needle, label in _REASON_BY_MESSAGE.items():
            if needle in str(item):
                return label
    return "invalid_response"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _assertion_of(response: Any, settings: SamlSettings, now: datetime) -> SamlAssertion:
    assertion = response.assertion
    if len(response.response.assertion or []) != 1 and not response.response.encrypted_assertion:
        # Exactly one assertion: a second (unsigned) one is an XML signature wrapping attempt.
        raise LoginRefused("multiple_assertions", "the SAML response carries several assertions")
    issuer = response.issuer() or ""
    if issuer != settings.idp_entity_id:
        raise LoginRefused("wrong_issuer", "the SAML assertion was issued by another IdP")
    refs: list[str] = []
    instant: datetime | None = None
    for statement in assertion.authn_statement or []:
        ctx = statement.authn_context
        if ctx is not None and ctx.authn_context_class_ref is not None:
            refs.append(str(ctx.authn_context_class_ref.text).strip())
        instant = _parse_time(statement.authn_instant) or instant
    expiry = None
    for confirmation in assertion.subject.subject_confirmation or []:
        data = confirmation.subject_confirmation_data
        if data is not None:
            if data.recipient and data.recipient != settings.acs_url:
                raise LoginRefused("wrong_recipient", "the SAML assertion is for another ACS")
            expiry = _parse_time(data.not_on_or_after) or expiry
    if assertion.conditions is not None:
        expiry = expiry or _parse_time(assertion.conditions.not_on_or_after)
    if expiry is None or now >= expiry + CLOCK_LEEWAY:
        raise LoginRefused("expired", "the SAML assertion has expired")
    name_id = response.name_id.text if response.name_id is not None else None
    if not name_id:
        raise LoginRefused("missing_subject", "the SAML assertion names no subject")
    attributes = {str(k): [str(v) for v in vs] for k, vs in (response.ava or {}).items()}
    return SamlAssertion(
        issuer=issuer,
        assertion_id=str(assertion.id),
        name_id=str(name_id).strip(),
        class_refs=tuple(refs),
        authn_instant=instant,
        not_on_or_after=expiry,
        attributes=attributes,
    )
