"""APNs HTTP/2 client: one multiplexed connection, retries with backoff, both auth modes.

Certificate auth presents the Pass Type ID certificate in the TLS handshake; token auth
sends an ES256 provider token (cached and refreshed by ``ProviderTokenCache``). The
endpoint is configurable so tests and the demo can point it at the local receiver in
``passgate.sim.apns_receiver``; an ``http://`` endpoint speaks HTTP/2 with prior knowledge.

Push tokens, provider tokens and keys never reach a log line or an exception message;
logs carry a short SHA-256 fingerprint of the push token for correlation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.errors import ValidationError
from passgate.proto.apns import (
    PRODUCTION_URL,
    ProviderTokenCache,
    PushOutcome,
    build_push,
    classify_response,
    is_valid_push_token,
    transport_failure,
    validate_topic,
)

logger = logging.getLogger(__name__)

SleepFn = Callable[[float], Awaitable[None]]


def token_fingerprint(push_token: str) -> str:
    """A short, non-reversible label for a push token, safe to log."""
    return hashlib.sha256(push_token.lower().encode("ascii", "replace")).hexdigest()[:12]


def _load_token_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        # The underlying error could describe key material: do not chain it.
        raise ValidationError(
            "token_key_pem is not an unencrypted PEM private key", field="token_key_pem"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValidationError("token_key_pem must be an EC P-256 key", field="token_key_pem")
    return key


def _tls_context(
    cert_file: str | Path | None,
    key_file: str | Path | None,
    key_password: bytes | None,
    ca_file: str | Path | None,
) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ValidationError(
            "ca_file cannot be loaded as PEM certificates", field="ca_file"
        ) from exc
    if cert_file is not None:
        try:
            context.load_cert_chain(
                str(cert_file), str(key_file) if key_file else None, password=key_password
            )
        except (OSError, ssl.SSLError) as exc:
            raise ValidationError(
                "cert_file/key_file cannot be loaded as a certificate and its key",
                field="cert_file",
            ) from exc
    return context


class ApnsClient:
    """Async APNs client. Create once, share, ``await aclose()`` at shutdown.

    Retryable outcomes (429, 5xx, transport errors) are retried up to ``max_attempts``
    times with full-jitter exponential backoff: the delay before attempt n+1 is uniform in
    [0, min(max_delay_s, base_delay_s * 2**(n-1))], so many workers that failed together
    do not hammer APNs together. ``ExpiredProviderToken`` is retried at once with a new
    token (certificate auth never sees it).
    """

    def __init__(
        self,
        *,
        base_url: str = PRODUCTION_URL,
        cert_file: str | Path | None = None,
        key_file: str | Path | None = None,
        key_password: bytes | None = None,
        team_id: str | None = None,
        key_id: str | None = None,
        token_key_pem: bytes | None = None,
        ca_file: str | Path | None = None,
        max_attempts: int = 4,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        timeout_s: float = 10.0,
        max_connections: int = 4,
        sleep: SleepFn = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = secrets.SystemRandom().random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValidationError("max_attempts must be at least 1", field="max_attempts")
        if base_delay_s < 0 or max_delay_s < 0:
            raise ValidationError("delays must not be negative", field="base_delay_s")
        token_auth = token_key_pem is not None or team_id is not None or key_id is not None
        if token_auth and cert_file is not None:
            raise ValidationError("use certificate auth or token auth, not both", field="cert_file")
        if not token_auth and cert_file is None:
            raise ValidationError(
                "give cert_file (certificate auth) or team_id, key_id and token_key_pem",
                field="cert_file",
            )
        self._tokens: ProviderTokenCache | None = None
        if token_auth:
            if team_id is None or key_id is None or token_key_pem is None:
                raise ValidationError(
                    "token auth needs team_id, key_id and token_key_pem", field="token_key_pem"
                )
            self._tokens = ProviderTokenCache(
                team_id=team_id, key_id=key_id, private_key=_load_token_key(token_key_pem)
            )
        scheme = base_url.split(":", 1)[0].lower()
        if scheme not in ("https", "http"):
            raise ValidationError("base_url must be an http(s) URL", field="base_url")
        verify: ssl.SSLContext | bool = True
        if scheme == "https":
            verify = _tls_context(cert_file, key_file, key_password, ca_file)
        elif cert_file is not None:
            raise ValidationError("certificate auth needs an https:// base_url", field="base_url")
        self._max_attempts = max_attempts
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        # APNs speaks only HTTP/2; http1=False also makes http:// use h2 prior knowledge.
        self._http = httpx.AsyncClient(
            base_url=base_url,
            http1=False,
            http2=True,
            verify=verify,
            timeout=httpx.Timeout(timeout_s),
            # APNs asks providers to keep connections open rather than reconnect per push.
            limits=httpx.Limits(max_connections=max_connections, keepalive_expiry=300.0),
            trust_env=False,
            transport=transport,
        )

    async def __aenter__(self) -> ApnsClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._max_delay_s, self._base_delay_s * 2.0 ** (attempt - 1))
        return ceiling * self._jitter()

    async def _attempt(self, push_token: str, topic: str) -> PushOutcome:
        request = build_push(push_token, topic=topic)
        headers = dict(request.headers)
        provider_token: str | None = None
        if self._tokens is not None:
            provider_token = self._tokens.token(int(self._clock()))
            headers["authorization"] = f"bearer {provider_token}"
        try:
            response = await self._http.post(request.path, headers=headers, content=request.body)
        except httpx.TransportError as exc:
            return transport_failure(type(exc).__name__)
        outcome = classify_response(response.status_code, response.content)
        outcome = dataclasses.replace(outcome, apns_id=response.headers.get("apns-id"))
        if outcome.needs_new_token and self._tokens is not None and provider_token is not None:
            self._tokens.invalidate(provider_token)
        logger.debug(
            "apns attempt",
            extra={
                "apns_token_fp": token_fingerprint(push_token),
                "apns_status": response.status_code,
                "apns_reason": outcome.reason,
                "http_version": response.http_version,
            },
        )
        return outcome

    async def send(self, push_token: str, topic: str) -> PushOutcome:
        """Tell the device holding ``push_token`` that passes of ``topic`` changed.

        A malformed token is answered locally as APNs would (``BadDeviceToken``,
        ``unregister``) without a request. A malformed topic is a configuration error
        and raises ValidationError.
        """
        validate_topic(topic)
        if not is_valid_push_token(push_token):
            return PushOutcome(
                delivered=False,
                retryable=False,
                unregister=True,
                reason="BadDeviceToken",
                attempts=0,
            )
        attempt = 1
        while True:
            outcome = await self._attempt(push_token, topic)
            if not outcome.retryable or attempt >= self._max_attempts:
                break
            if not outcome.needs_new_token:
                await self._sleep(self._backoff(attempt))
            attempt += 1
        outcome = dataclasses.replace(outcome, attempts=attempt)
        log = logger.info if outcome.delivered else logger.warning
        log(
            "apns push %s",
            "delivered" if outcome.delivered else "failed",
            extra={
                "apns_token_fp": token_fingerprint(push_token),
                "apns_status": outcome.status,
                "apns_reason": outcome.reason,
                "apns_attempts": attempt,
                "apns_unregister": outcome.unregister,
            },
        )
        return outcome

    async def send_many(
        self, items: Iterable[tuple[str, str]], concurrency: int = 100
    ) -> list[PushOutcome]:
        """Send (push_token, topic) pairs, at most ``concurrency`` in flight; results in order.

        All topics are checked before anything is sent, so a configuration error cannot
        leave a batch half sent.
        """
        if concurrency < 1:
            raise ValidationError("concurrency must be at least 1", field="concurrency")
        pairs: Sequence[tuple[str, str]] = list(items)
        for _, topic in pairs:
            validate_topic(topic)
        gate = asyncio.Semaphore(concurrency)

        async def one(push_token: str, topic: str) -> PushOutcome:
            async with gate:
                return await self.send(push_token, topic)

        return list(await asyncio.gather(*(one(t, p) for t, p in pairs)))
