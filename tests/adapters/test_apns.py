"""ApnsClient against the local ApnsReceiver over real TLS and HTTP/2."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from passgate.adapters.apns import ApnsClient
from passgate.domain.errors import ValidationError
from passgate.sim.apns_receiver import ApnsReceiver, server_ssl_context

TOPIC = "pass.com.example.door"
TEAM = "TEAM123456"
KID = "KEY1234567"


def token(i: int) -> str:
    return f"{i:064x}"


# -- a throwaway PKI -------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test APNs CA")])
    ca_cert = _issue("Test APNs CA", ca_key, ca_name, ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = _issue("localhost", server_key, ca_name, ca_key, ca=False, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client_cert = _issue(TOPIC, client_key, ca_name, ca_key, ca=False)
    files = {
        "ca.pem": ca_cert.public_bytes(serialization.Encoding.PEM),
        "server.pem": server_cert.public_bytes(serialization.Encoding.PEM),
        "server.key": _pem_key(server_key),
        "client.pem": client_cert.public_bytes(serialization.Encoding.PEM),
        "client.key": _pem_key(client_key),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    return Pki(
        root / "ca.pem",
        root / "server.pem",
        root / "server.key",
        root / "client.pem",
        root / "client.key",
    )


def server_context(pki: Pki, *, client_certs: bool) -> ssl.SSLContext:
    return server_ssl_context(
        str(pki.server_cert),
        str(pki.server_key),
        client_ca_file=str(pki.ca) if client_certs else None,
    )


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


Scenario = Callable[[ApnsReceiver, int], Awaitable[None]]


def run_with_receiver(
    scenario: Scenario, receiver: ApnsReceiver, context: ssl.SSLContext | None
) -> None:
    async def main() -> None:
        port = await receiver.start(ssl_context=context)
        try:
            await scenario(receiver, port)
        finally:
            await receiver.stop()

    asyncio.run(main())


def cert_client(pki: Pki, port: int, **kwargs: object) -> ApnsClient:
    return ApnsClient(
        base_url=f"https://localhost:{port}",
        cert_file=pki.client_cert,
        key_file=pki.client_key,
        ca_file=pki.ca,
        **kwargs,  # type: ignore[arg-type]
    )


SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())


def token_client(
    pki: Pki, port: int, key: ec.EllipticCurvePrivateKey = SIGNING_KEY, **kwargs: object
) -> ApnsClient:
    return ApnsClient(
        base_url=f"https://127.0.0.1:{port}",
        team_id=TEAM,
        key_id=KID,
        token_key_pem=_pem_key(key),
        ca_file=pki.ca,
        **kwargs,  # type: ignore[arg-type]
    )


# -- end to end ------------------------------------------------------------------------


def test_certificate_auth_over_tls_http2(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="passgate.adapters.apns")
    receiver = ApnsReceiver(require_client_cert=True)

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        queue = receiver.subscribe(token(1))
        async with cert_client(pki, port) as client:
            outcome = await client.send(token(1), TOPIC)
        assert outcome.delivered and outcome.attempts == 1 and outcome.apns_id
        delivery = queue.get_nowait()
        assert (delivery.token, delivery.topic, delivery.body) == (token(1), TOPIC, b"{}")
        assert delivery.tls and delivery.client_cert
        assert delivery.headers["apns-push-type"] == "background"
        assert delivery.apns_id == outcome.apns_id
        # An independent HTTP/2 client confirms what the receiver negotiates.
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
        async with httpx.AsyncClient(http2=True, verify=context) as raw:
            response = await raw.post(
                f"https://localhost:{port}/3/device/{token(2)}",
                headers={"apns-topic": TOPIC},
                content=b"{}",
            )
        assert response.http_version == "HTTP/2"
        assert response.status_code == 200

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))
    versions = {getattr(r, "http_version", None) for r in caplog.records if r.msg == "apns attempt"}
    assert versions == {"HTTP/2"}
    # Neither the push token nor key material reaches the logs.
    assert token(1) not in caplog.text
    assert all(token(1) not in str(r.__dict__) for r in caplog.records)


def test_tls_without_client_certificate_is_refused(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        async with token_client(pki, port, max_attempts=1) as client:
            outcome = await client.send(token(1), TOPIC)
        # The TLS handshake demands a certificate: no HTTP answer at all.
        assert not outcome.delivered and outcome.retryable and outcome.status == 0
        assert receiver.deliveries == []

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_token_auth_over_tls(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="passgate.adapters.apns")
    receiver = ApnsReceiver(provider_key=SIGNING_KEY.public_key(), team_id=TEAM)

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        async with token_client(pki, port) as client:
            first = await client.send(token(1), TOPIC)
            second = await client.send(token(2), TOPIC)
        assert first.delivered and second.delivered
        assert [d.token for d in receiver.deliveries] == [token(1), token(2)]
        assert all("authorization" not in d.headers for d in receiver.deliveries)
        assert receiver.connections_accepted == 1

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=False))
    assert "bearer" not in caplog.text.lower()


def test_token_signed_by_another_key_is_a_permanent_failure(pki: Pki) -> None:
    receiver = ApnsReceiver(provider_key=SIGNING_KEY.public_key())
    sleep = FakeSleep()

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        stranger = ec.generate_private_key(ec.SECP256R1())
        async with token_client(pki, port, key=stranger, sleep=sleep) as client:
            outcome = await client.send(token(1), TOPIC)
        assert (outcome.status, outcome.reason) == (403, "InvalidProviderToken")
        assert not (outcome.delivered or outcome.retryable or outcome.unregister)
        assert outcome.attempts == 1 and sleep.delays == []

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=False))


def test_expired_provider_token_is_refreshed_and_retried_at_once(pki: Pki) -> None:
    receiver = ApnsReceiver(provider_key=SIGNING_KEY.public_key())
    sleep = FakeSleep()
    times = iter([time.time() - 4000])

    def clock() -> float:
        # The first token is minted with a clock two hours slow, later ones with the real one.
        return next(times, time.time())

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        async with token_client(pki, port, sleep=sleep, clock=clock) as client:
            outcome = await client.send(token(1), TOPIC)
        assert outcome.delivered and outcome.attempts == 2
        assert sleep.delays == []
        assert receiver.requests_seen == 2

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=False))


def test_unregistered_token(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)
    receiver.mark_unregistered(token(7))

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        async with cert_client(pki, port) as client:
            outcome = await client.send(token(7), TOPIC)
        assert outcome.unregister and not outcome.retryable and not outcome.delivered
        assert (outcome.status, outcome.reason) == (410, "Unregistered")
        assert outcome.timestamp_ms is not None

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_two_503_then_success_after_three_attempts(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)
    receiver.fail_next(2)
    sleep = FakeSleep()

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        client = cert_client(pki, port, sleep=sleep, base_delay_s=0.5, jitter=lambda: 1.0)
        async with client:
            outcome = await client.send(token(3), TOPIC)
        assert outcome.delivered and outcome.attempts == 3
        assert sleep.delays == [0.5, 1.0]
        assert len(receiver.deliveries) == 1

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_retries_stop_at_max_attempts_with_jittered_capped_delays(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)
    receiver.fail_next(10, status=500, reason="InternalServerError")
    sleep = FakeSleep()

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        client = cert_client(
            pki,
            port,
            sleep=sleep,
            max_attempts=5,
            base_delay_s=1,
            max_delay_s=3,
            jitter=lambda: 0.5,
        )
        async with client:
            outcome = await client.send(token(3), TOPIC)
        assert outcome.retryable and not outcome.delivered and outcome.attempts == 5
        assert (outcome.status, outcome.reason) == (500, "InternalServerError")
        assert sleep.delays == [0.5, 1.0, 1.5, 1.5]

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_unreachable_endpoint_gives_a_retryable_outcome_not_an_exception(pki: Pki) -> None:
    async def main() -> None:
        receiver = ApnsReceiver()
        port = await receiver.start()
        await receiver.stop()  # the port is now closed
        sleep = FakeSleep()
        async with cert_client(pki, port, sleep=sleep, max_attempts=2) as client:
            outcome = await client.send(token(1), TOPIC)
        assert outcome.retryable and outcome.status == 0 and outcome.attempts == 2
        assert outcome.reason == "ConnectError"
        assert len(sleep.delays) == 1

    asyncio.run(main())


def test_malformed_token_is_answered_locally(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        async with cert_client(pki, port) as client:
            outcome = await client.send("not-a-token", TOPIC)
            with pytest.raises(ValidationError) as info:
                await client.send(token(1), "bad topic")
        assert outcome.unregister and outcome.reason == "BadDeviceToken" and outcome.attempts == 0
        assert info.value.field == "topic"
        assert receiver.requests_seen == 0

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_200_concurrent_pushes_over_one_connection(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        items = [(token(i), TOPIC) for i in range(200)]
        async with cert_client(pki, port) as client:
            outcomes = await client.send_many(items, concurrency=200)
        assert all(o.delivered for o in outcomes)
        assert len(outcomes) == 200
        assert sorted(d.token for d in receiver.deliveries) == sorted(t for t, _ in items)
        assert receiver.connections_accepted == 1

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_send_many_keeps_order_and_mixes_outcomes(pki: Pki) -> None:
    receiver = ApnsReceiver(require_client_cert=True)
    receiver.mark_unregistered(token(1))

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        async with cert_client(pki, port) as client:
            outcomes = await client.send_many([(token(0), TOPIC), (token(1), TOPIC), ("x", TOPIC)])
            with pytest.raises(ValidationError):
                await client.send_many([(token(0), TOPIC), (token(2), "")])
        assert [o.delivered for o in outcomes] == [True, False, False]
        assert [o.unregister for o in outcomes] == [False, True, True]
        assert len(receiver.deliveries) == 1  # the bad batch sent nothing

    run_with_receiver(scenario, receiver, server_context(pki, client_certs=True))


def test_cleartext_http2_prior_knowledge() -> None:
    receiver = ApnsReceiver(provider_key=SIGNING_KEY.public_key())

    async def scenario(receiver: ApnsReceiver, port: int) -> None:
        client = ApnsClient(
            base_url=f"http://127.0.0.1:{port}",
            team_id=TEAM,
            key_id=KID,
            token_key_pem=_pem_key(SIGNING_KEY),
        )
        async with client:
            outcome = await client.send(token(5), TOPIC)
        assert outcome.delivered
        assert not receiver.deliveries[0].tls

    run_with_receiver(scenario, receiver, None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "cert_file"),
        ({"cert_file": "c.pem", "team_id": TEAM}, "cert_file"),
        ({"team_id": TEAM, "key_id": KID}, "token_key_pem"),
        ({"team_id": TEAM, "key_id": KID, "token_key_pem": b"nope"}, "token_key_pem"),
        ({"cert_file": "c.pem", "base_url": "http://127.0.0.1:1"}, "base_url"),
        ({"cert_file": "c.pem", "base_url": "ftp://x"}, "base_url"),
        ({"cert_file": "c.pem", "max_attempts": 0}, "max_attempts"),
        ({"cert_file": "/nonexistent/client.pem"}, "cert_file"),
        ({"cert_file": "c.pem", "ca_file": "/nonexistent/ca.pem"}, "ca_file"),
    ],
)
def test_constructor_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ApnsClient(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
