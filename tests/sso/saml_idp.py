"""An in-process SAML IdP (pysaml2's saml2.server.Server) with its own key and certificate.

It answers Passgate's AuthnRequests with assertions signed by xmlsec1, and can
build deliberately wrong ones (tampered, unsigned, wrapped) signed with its real
key, so each negative case isolates one check.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="CFB has been moved", module=r"saml2\.cryptography\.symmetric"
    )
    import saml2
    from saml2 import class_name, saml, samlp, xmldsig
    from saml2.config import IdPConfig
    from saml2.server import Server
    from saml2.sigver import pre_signature_part

IDP_ENTITY = "https://idp.saml.test/metadata"
IDP_SSO = "https://idp.saml.test/sso"
MFA_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
PWD_CLASS = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


def make_cert(directory: Path) -> tuple[Path, Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test saml idp")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = directory / "idp.key", directory / "idp.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cert_path.write_text(pem)
    return key_path, cert_path, pem


def sp_metadata(sp_entity: str, acs: str) -> str:
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{sp_entity}"><md:SPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{acs}" index="0"/></md:SPSSODescriptor></md:EntityDescriptor>'
    )


class InProcessIdp:
    def __init__(self, directory: Path, sp_entity: str, acs: str) -> None:
        key_path, cert_path, self.cert_pem = make_cert(directory)
        self.sp_entity, self.acs = sp_entity, acs
        conf = IdPConfig()
        conf.load(
            {
                "entityid": IDP_ENTITY,
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "key_file": str(key_path),
                "cert_file": str(cert_path),
                "metadata": {"inline": [sp_metadata(sp_entity, acs)]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(IDP_SSO, saml2.BINDING_HTTP_REDIRECT)]
                        },
                        "policy": {"default": {"lifetime": {"minutes": 5}}},
                        "name_id_format": [saml.NAMEID_FORMAT_PERSISTENT],
                    }
                },
            }
        )
        self.server = Server(config=conf)

    def request_id(self, redirect_url: str) -> tuple[str, str]:
        """(AuthnRequest id, RelayState) from Passgate's redirect to the IdP."""
        query = {k: v[0] for k, v in parse_qs(urlparse(redirect_url).query).items()}
        parsed = self.server.parse_authn_request(query["SAMLRequest"], saml2.BINDING_HTTP_REDIRECT)
        return str(parsed.message.id), query["RelayState"]

    def response(
        self,
        request_id: str,
        *,
        class_ref: str = MFA_CLASS,
        subject: str = "sub-ada",
        email: str = "ada@acme.test",
        sign_assertion: bool = True,
        sign_response: bool = False,
        tamper: Callable[[Any], None] | None = None,
        wrap: bool = False,
        sha1: bool = False,
    ) -> str:
        xml = self.server.create_authn_response(
            identity={"email": [email]},
            in_response_to=request_id,
            destination=self.acs,
            sp_entity_id=self.sp_entity,
            userid=subject,
            name_id=saml.NameID(format=saml.NAMEID_FORMAT_PERSISTENT, text=subject),
            authn={"class_ref": class_ref, "authn_auth": IDP_ENTITY},
            sign_assertion=False,
            sign_response=False,
        )
        response = samlp.response_from_string(str(xml))
        assertion = (
            response.assertion[0] if isinstance(response.assertion, list) else response.assertion
        )
        if tamper is not None:
            tamper(assertion)
        # pysaml2 defaults to SHA-1, which Passgate refuses; IdPs today sign with SHA-256.
        algs = (
            {"sign_alg": xmldsig.SIG_RSA_SHA1, "digest_alg": xmldsig.DIGEST_SHA1}
            if sha1
            else {"sign_alg": xmldsig.SIG_RSA_SHA256, "digest_alg": xmldsig.DIGEST_SHA256}
        )
        if sign_assertion:
            assertion.signature = pre_signature_part(
                assertion.id, self.server.sec.my_cert, 1, **algs
            )
        if sign_response:
            response.signature = pre_signature_part(response.id, self.server.sec.my_cert, 1, **algs)
        text = str(response)
        if sign_assertion:
            text = self.server.sec.sign_statement(text, class_name(assertion), node_id=assertion.id)
        if sign_response:
            text = self.server.sec.sign_statement(text, class_name(response), node_id=response.id)
        if wrap:
            text = _wrap(text, assertion.id)
        return base64.b64encode(text.encode()).decode()


def _wrap(signed: str, assertion_id: str) -> str:
    """XSW: inject an unsigned copy naming another subject before the signed assertion."""
    start = (
        signed.index("<saml:Assertion")
        if "<saml:Assertion" in signed
        else signed.index("<ns1:Assertion")
    )
    end_tag = "</saml:Assertion>" if "</saml:Assertion>" in signed else "</ns1:Assertion>"
    end = signed.index(end_tag) + len(end_tag)
    original = signed[start:end]
    evil = original.replace(assertion_id, "evil" + assertion_id[4:]).replace("sub-ada", "sub-eve")
    sig_start = evil.find("<ds:Signature")
    if sig_start >= 0:
        sig_end = evil.index("</ds:Signature>") + len("</ds:Signature>")
        evil = evil[:sig_start] + evil[sig_end:]
    return signed[:start] + evil + signed[start:]
