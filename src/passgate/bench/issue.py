"""`passgate bench issue`: signed passes per second, and provisioning latency over HTTP.

Part one signs .pkpass files in a loop on one core (pass.json + images + CMS signature).
Part two starts the real app under uvicorn on a free port (SQLite in a temp dir) and
times POST /api/v1/me/apple_pass from an HTTP client, one request at a time.
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import click

PASS_TYPE = "pass.bench.passgate.door"  # noqa: S105 - an identifier
TEAM = "BENCHTEAM1"


def _sign_rate(seconds: float) -> float:
    from passgate.proto.passkit import PassContent, PassSigner, make_dev_chain
    from passgate.services.credentials.wallet import WalletConfig, render_pkpass

    now = datetime.now(UTC)
    chain = make_dev_chain(pass_type_identifier=PASS_TYPE, team_identifier=TEAM, now=now)
    signer = PassSigner.from_pem(chain.pass_cert_pem, chain.pass_key_pem, chain.wwdr_pem)
    cfg = WalletConfig(signer, PASS_TYPE, TEAM, "https://bench.example.com/passkit", b"k" * 32)
    done, start = 0, time.perf_counter()
    tenths = max(1, round(seconds * 10))
    bar = click.progressbar(length=tenths, label="signing passes", file=sys.stderr, show_eta=False)
    while (elapsed := time.perf_counter() - start) < seconds:
        bar.update(min(tenths, int(elapsed * 10)) - bar.pos)
        content = PassContent(
            pass_type_identifier=PASS_TYPE,
            team_identifier=TEAM,
            serial_number=f"ws-bench-{done}",
            organization_name="Bench Org",
            description="Door key",
            member_name=f"Member {done}",
            status="active",
            web_service_url=cfg.web_service_url,
            authentication_token="t" * 64,
        )
        render_pkpass(cfg, content, now)
        done += 1
    bar.update(tenths - bar.pos)
    bar.render_finish()
    return done / (time.perf_counter() - start)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _provision_latencies(requests: int) -> list[float]:
    import httpx
    import uvicorn
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from passgate.adapters.db import migrate
    from passgate.bootstrap import build_container
    from passgate.config import Settings
    from passgate.domain import model as m
    from passgate.services.auth.sessions import LoginProof, start_session
    from passgate.web.app import create_app

    tmp = Path(tempfile.mkdtemp(prefix="passgate-bench-"))
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'bench.db'}",
        dev_mode=True,
        secret_key="b" * 40,
        data_dir=str(tmp),
        pass_type_identifier=PASS_TYPE,
        team_identifier=TEAM,
        metrics_enabled=False,
    )
    c = build_container(settings)
    migrate.upgrade(c.engine)
    now = c.clock.now()
    org = m.Organization(id=m.new_id("org"), name="Bench", slug="bench", created_at=now)
    org.sso_enforced = org.mfa_required = True
    with c.uow_factory(None) as uow:
        uow.organizations.add(org)
    tokens = []
    with c.uow_factory(org.id) as uow:
        uow.repo(m.SsoConnection).add(
            m.SsoConnection(m.new_id("sso"), org.id, "oidc", True, {}, None, ["otp"], now, now)
        )
        uow.repo(m.Subscription).add(
            m.Subscription(m.new_id("sub"), org.id, "apple_pass", "active", now, None, now)
        )
        for i in range(requests):
            member = m.Member(
                m.new_id("mbr"), org.id, f"m{i}@bench.test", f"M {i}", "member", "active", None, now
            )
            uow.repo(m.Member).add(member)
            proof = LoginProof("oidc", "https://idp.bench", True, ("pwd", "otp"), now)
            issued = start_session(
                uow,
                member=member,
                kind=m.SessionKind.APP,
                proof=proof,
                policy=c.session_policy(m.SessionKind.APP),
                now=now,
            )
            tokens.append(issued.token)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(c), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    timings = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            bar = click.progressbar(tokens, label="provisioning over HTTP", file=sys.stderr)
            for token in tokens:
                key = ec.generate_private_key(ec.SECP256R1()).public_key()
                point = key.public_bytes(
                    serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
                )
                body = {
                    "iphone": {
                        "device_id": token[:20],
                        "model": "iPhone16,1",
                        "ios_version": "17.4",
                        "app_version": "46.1",
                        "public_key": point.hex(),
                    }
                }
                start = time.perf_counter()
                r = http.post(
                    "/api/v1/me/apple_pass", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                timings.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200:
                    raise click.ClickException(f"provisioning failed: {r.status_code} {r.text}")
                bar.update(1)
            bar.render_finish()
    finally:
        server.should_exit = True
        thread.join()
        c.close()
    return timings


@click.command("issue")
@click.option(
    "--seconds",
    default=3.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=600),
    help="Signing loop duration, s",
)
@click.option(
    "--requests",
    default=200,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Provisioning calls to time",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object")
def issue(seconds: float, requests: int, as_json: bool) -> None:
    """Signed passes per second (one core) and provisioning latency over HTTP (SQLite)."""
    rate = _sign_rate(seconds)
    timings = sorted(_provision_latencies(requests))
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    result = {
        "passes_per_second": round(rate, 1),
        "provision_p50_ms": round(p50, 2),
        "provision_p99_ms": round(p99, 2),
    }
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"signed passes: {result['passes_per_second']} passes/s on one core")
        click.echo(
            f"provisioning over HTTP: p50 {result['provision_p50_ms']} ms, "
            f"p99 {result['provision_p99_ms']} ms ({requests} requests)"
        )
