"""Setting up an organization whose members may add Apple Passes, without the SSO flows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from tests.conftest import Org, operator_headers

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.services.auth.sessions import LoginProof, start_session


def new_public_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return raw.hex()


def make_eligible(client: TestClient, org: Org) -> None:
    """R1: an enabled SSO connection, SSO enforced with MFA, an active subscription."""
    c: Container = client.app.state.container  # type: ignore[attr-defined]
    now = c.clock.now()
    with c.uow_factory(org.id) as uow:
        uow.repo(m.SsoConnection).add(
            m.SsoConnection(
                id=m.new_id("sso"),
                org_id=org.id,
                protocol="oidc",
                enabled=True,
                settings={"issuer": "https://idp.test"},
                secret_sealed=None,
                accepted_mfa=["otp"],
                created_at=now,
                updated_at=now,
            )
        )
        o = uow.organizations.get(org.id)
        o.sso_enforced = True
        o.mfa_required = True
        uow.organizations.update(o)
    r = client.post(
        f"/api/v1/organizations/{org.id}/subscriptions",
        json={"valid_from": "2026-01-01T00:00:00Z"},
        headers=operator_headers(),
    )
    assert r.status_code == 201, r.text


def app_headers(
    client: TestClient,
    org_id: str,
    member_id: str,
    *,
    mfa: bool = True,
    auth_time: datetime | None = None,
) -> dict[str, str]:
    c: Container = client.app.state.container  # type: ignore[attr-defined]
    now = c.clock.now()
    with c.uow_factory(org_id) as uow:
        member = uow.repo(m.Member).get(member_id)
        issued = start_session(
            uow,
            member=member,
            kind=m.SessionKind.APP,
            proof=LoginProof(
                protocol="oidc",
                idp="https://idp.test",
                mfa_proven=mfa,
                methods=("pwd", "otp") if mfa else ("pwd",),
                auth_time=auth_time or now,
            ),
            policy=c.session_policy(m.SessionKind.APP),
            now=now,
        )
    return {"Authorization": f"Bearer {issued.token}"}


def iphone(device_id: str = "iphone-1", key: str | None = None, **over: Any) -> dict[str, Any]:
    body = {
        "device_id": device_id,
        "model": "iPhone16,1",
        "ios_version": "17.4",
        "app_version": "46.0",
        "public_key": key or new_public_key(),
    }
    return {**body, **over}


def watch(
    device_id: str = "watch-1", key: str | None = None, locked: bool = False
) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "model": "Watch7,1",
        "watchos_version": "10.2",
        "locked": locked,
        "public_key": key or new_public_key(),
    }


@dataclass
class MemberApp:
    org: Org
    member_id: str
    headers: dict[str, str]
    client: TestClient

    def add(self, body: dict[str, Any]) -> Any:
        return self.client.post("/api/v1/me/apple_pass", json=body, headers=self.headers)


def eligible_member(
    client: TestClient, slug: str = "acme", email: str = "ann@example.com"
) -> MemberApp:
    org = Org(client, slug)
    make_eligible(client, org)
    member_id = org.post("/members", {"email": email, "display_name": "Ann Example"})["id"]
    return MemberApp(org, member_id, app_headers(client, org.id, member_id), client)


def add_apple_pass(client: TestClient, org: Org, member_id: str) -> str:
    """For the generated tenant-isolation matrix: a real pass of ``org``; returns its id."""
    make_eligible(client, org)
    r = client.post(
        "/api/v1/me/apple_pass",
        json={"iphone": iphone()},
        headers=app_headers(client, org.id, member_id),
    )
    assert r.status_code == 200, r.text
    return str(r.json()["pass_id"])


def fresh_app_key() -> str:
    """A new P-256 public point, hex: what the app registers (each registration its own)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ).hex()


def add_app_credential(client: TestClient, org: Org, member_id: str) -> str:
    """A real app credential of ``org`` (R27), registered through the app; returns its id."""
    r = client.post(
        "/api/v1/me/app_credentials",
        json={"public_key": fresh_app_key(), "device_id": "iphone-" + member_id[-6:]},
        headers=app_headers(client, org.id, member_id),
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def reader_log_head(container: Any, org_id: str) -> int:
    """The organization's reader change log head: what readers have been told up to."""
    with container.uow_factory(org_id, write=False) as uow:
        return int(uow.reader_changes.heads([org_id]).get(org_id, (0, 0))[0])


def reader_log_since(container: Any, org_id: str, seq: int) -> set[tuple[str, str]]:
    """What the change log told every reader hub after ``seq``: (kind, object id) notes."""
    with container.uow_factory(org_id, write=False) as uow:
        head = uow.reader_changes.heads([org_id]).get(org_id, (0, 0))[0]
        return {(kind, obj) for _, kind, obj in uow.reader_changes.after(org_id, seq, head)}
