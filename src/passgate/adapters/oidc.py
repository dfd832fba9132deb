"""OpenID Connect relying party: discovery, authorization URL, code exchange, ID token signature.

JOSE comes from joserfc. Only asymmetric signature algorithms are accepted: an
ID token "signed" with HS256 using the provider's public key as the HMAC secret
(the classic algorithm-confusion attack) or with ``alg: none`` never verifies.
The claim rules (iss, aud, exp, nonce, auth_time) live in ``domain.sso``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from passgate.domain.sso import LoginRefused

ALLOWED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
_HASH_OF_ALG: dict[str, Callable[[bytes], Any]] = {
    "256": hashlib.sha256,
    "384": hashlib.sha384,
    "512": hashlib.sha512,
}
_CACHE_S = 300.0
_MAX_TOKEN = 16_384


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


def _b64url_json(part: str) -> Any:
    padded = part + "=" * (-len(part) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = _b64url_json(token.split(".", 1)[0])
    except (ValueError, UnicodeError) as exc:
        raise LoginRefused("malformed_id_token", "the ID token is not a JWS") from exc
    if not isinstance(header, dict):
        raise LoginRefused("malformed_id_token", "the ID token header is not an object")
    return header


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core 3.1.3.6: left half of the hash of the access token, base64url."""
    digest_fn = hashlib.sha512 if alg == "EdDSA" else _HASH_OF_ALG[alg[-3:]]
    digest = digest_fn(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


class OidcClient:
    """One per process; caches discovery documents and key sets for a few minutes."""

    def __init__(self, http_factory: Callable[[], httpx.Client]) -> None:
        # A short-lived client per call: logins are rare, and nothing is left open.
        self._http_factory = http_factory
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            with self._http_factory() as http:
                response = http.get(url)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LoginRefused("idp_unreachable", f"could not read the provider's {what}") from exc
        if not isinstance(body, dict):
            raise LoginRefused("idp_bad_response", f"the provider's {what} is not an object")
        return body

    def metadata(self, issuer: str) -> ProviderMetadata:
        cached = self._metadata.get(issuer)
        if cached is not None and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        doc = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery")
        # OIDC Discovery 4.3: the document must name exactly the issuer we asked for.
        if doc.get("issuer") != issuer:
            raise LoginRefused("wrong_issuer", "the discovery document names another issuer")
        try:
            meta = ProviderMetadata(
                issuer=issuer,
                authorization_endpoint=str(doc["authorization_endpoint"]),
                token_endpoint=str(doc["token_endpoint"]),
                jwks_uri=str(doc["jwks_uri"]),
            )
        except KeyError as exc:
            raise LoginRefused("idp_bad_response", "the discovery document is incomplete") from exc
        self._metadata[issuer] = (time.monotonic(), meta)
        return meta

    def _key_set(self, jwks_uri: str, *, refresh: bool) -> KeySet:
        cached = self._keys.get(jwks_uri)
        if cached is not None and not refresh and time.monotonic() - cached[0] < _CACHE_S:
            return cached[1]
        doc = self._get_json(jwks_uri, "key set")
        try:
            keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise LoginRefused("idp_bad_response", "the provider's key set is invalid") from exc
        self._keys[jwks_uri] = (time.monotonic(), keys)
        return keys

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
    ) -> str:
        meta = self.metadata(issuer)
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "scope": scope,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
                "max_age": str(max_age_s),
            }
        )
        sep = "&" if "?" in meta.authorization_endpoint else "?"
        return f"{meta.authorization_endpoint}{sep}{query}"

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
        """Trade the code for tokens; returns the ID token's claims, signature verified."""
        meta = self.metadata(issuer)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": client_id,
        }
        try:
            with self._http_factory() as http:
                if client_secret:
                    auth = httpx.BasicAuth(client_id, client_secret)
                    response = http.post(meta.token_endpoint, data=form, auth=auth)
                else:
                    response = http.post(meta.token_endpoint, data=form)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LoginRefused("idp_unreachable", "the token endpoint did not answer") from exc
        if response.status_code != 200 or not isinstance(body, dict):
            raise LoginRefused("code_exchange_failed", "the provider refused the code exchange")
        id_token = body.get("id_token")
        if not isinstance(id_token, str) or not id_token or len(id_token) > _MAX_TOKEN:
            raise LoginRefused("missing_id_token", "the provider returned no ID token")
        access_token = body.get("access_token")
        return self.verify_id_token(
            id_token, meta, access_token if isinstance(access_token, str) else None
        )

    def verify_id_token(
        self, id_token: str, meta: ProviderMetadata, access_token: str | None
    ) -> dict[str, Any]:
        alg = unverified_header(id_token).get("alg")
        if alg not in ALLOWED_ALGS:
            # Refused before any key is touched: none, HS*, anything unexpected.
            raise LoginRefused("alg_not_allowed", f"ID token algorithm {alg!r} is not accepted")
        claims = self._decode(id_token, meta, str(alg), refresh=False)
        expected = claims.get("at_hash")
        if (
            expected is not None
            and access_token is not None
            and (
                not isinstance(expected, str)
                or not hmac.compare_digest(
                    expected.encode(), at_hash(access_token, str(alg)).encode()
                )
            )
        ):
            raise LoginRefused("bad_at_hash", "the ID token does not match the access token")
        return claims

    def _decode(
        self, id_token: str, meta: ProviderMetadata, alg: str, *, refresh: bool
    ) -> dict[str, Any]:
        keys = self._key_set(meta.jwks_uri, refresh=refresh)
        try:
            token = jwt.decode(id_token, keys, algorithms=[alg])
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            if not refresh:
                # The provider may have rotated its keys since we cached them.
                return self._decode(id_token, meta, alg, refresh=True)
            raise LoginRefused("bad_signature", "the ID token's signature does not verify") from exc
        return dict(token.claims)
