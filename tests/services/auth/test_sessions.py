"""Member sessions: the token a verified SSO login turns into, and what it may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.domain.errors import PreconditionFailed
from passgate.services.actors import Actor, ActorKind
from passgate.services.auth import sessions


def _session(
    container: Container, org: Org, member_id: str, kind: m.SessionKind, *, mfa: bool = True
) -> sessions.IssuedSession:
    proof = sessions.LoginProof(
        protocol="oidc",
        idp="https://idp.example.com",
        mfa_proven=mfa,
        methods=("pwd", "otp") if mfa else ("pwd",),
        auth_time=container.clock.now(),
    )
    with container.uow_factory(org.id) as uow:
        member = uow.repo(m.Member).get(member_id)
        return sessions.start_session(
            uow,
            member=member,
            kind=kind,
            proof=proof,
            policy=container.session_policy(kind),
            now=container.clock.now(),
        )


def _bearer(issued: sessions.IssuedSession) -> dict[str, str]:
    return {"Authorization": f"Bearer {issued.token}"}


def test_a_browser_session_of_an_admin_acts_with_the_admin_role(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    admin = org.post(
        "/members", {"email": "ada@example.com", "display_name": "Ada", "role": "admin"}
    )
    issued = _session(container, org, admin["id"], m.SessionKind.BROWSER)
    r = client.post("/api/v1/places", json={"name": "HQ"}, headers=_bearer(issued))
    assert r.status_code == 201
    [event] = client.get("/api/v1/events?type=place.created", headers=org.headers).json()
    assert event["actor_type"] == "member" and event["actor_id"] == admin["id"]
    assert event["data"]["session_id"] == issued.session.id  # R20: which SSO session did it


def test_an_app_session_acts_as_the_member_only(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    admin = org.post(
        "/members", {"email": "ada@example.com", "display_name": "Ada", "role": "admin"}
    )
    issued = _session(container, org, admin["id"], m.SessionKind.APP)
    r = client.post("/api/v1/places", json={"name": "HQ"}, headers=_bearer(issued))
    assert r.status_code == 403


def test_sessions_expire_when_idle_and_at_their_absolute_limit(
    client: TestClient, container: Container, clock: FixedClock
) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "a@example.com", "display_name": "A", "role": "admin"})
    issued = _session(container, org, member["id"], m.SessionKind.BROWSER)
    clock.advance(minutes=29)
    assert client.get("/api/v1/places", headers=_bearer(issued)).status_code == 200
    clock.advance(minutes=29)  # idle window slid forward with the last use
    assert client.get("/api/v1/places", headers=_bearer(issued)).status_code == 200
    clock.advance(minutes=31)
    r = client.get("/api/v1/places", headers=_bearer(issued))
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]

    fresh = _session(container, org, member["id"], m.SessionKind.BROWSER)
    for _ in range(25):  # keep it busy past the 12 h absolute limit
        clock.advance(minutes=29)
        last = client.get("/api/v1/places", headers=_bearer(fresh))
    assert last.status_code == 401


def test_logout_and_member_deactivation_end_the_session(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "a@example.com", "display_name": "A", "role": "admin"})
    issued = _session(container, org, member["id"], m.SessionKind.BROWSER)
    actor = Actor(
        kind=ActorKind.MEMBER,
        id=member["id"],
        name="A",
        org_id=org.id,
        role="admin",
        session_id=issued.session.id,
    )
    with container.uow_factory(org.id) as uow:
        sessions.end_session(uow, actor, issued.session.id, container.clock.now())
    assert client.get("/api/v1/places", headers=_bearer(issued)).status_code == 401

    second = _session(container, org, member["id"], m.SessionKind.BROWSER)
    client.patch(
        f"/api/v1/members/{member['id']}", json={"status": "deactivated"}, headers=org.headers
    )
    assert client.get("/api/v1/places", headers=_bearer(second)).status_code == 401


def test_a_tampered_session_token_is_refused(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "a@example.com", "display_name": "A"})
    issued = _session(container, org, member["id"], m.SessionKind.APP)
    forged = issued.token[:-2] + ("AA" if not issued.token.endswith("AA") else "BB")
    assert (
        client.get(
            "/api/v1/organization", headers={"Authorization": f"Bearer {forged}"}
        ).status_code
        == 401
    )


def test_mfa_freshness_is_proven_by_the_session_not_claimed() -> None:
    now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    single = Actor(kind=ActorKind.MEMBER, id="m", name="m", org_id="o", role="member", mfa_at=None)
    with pytest.raises(PreconditionFailed) as info:
        single.require_fresh_mfa(now, timedelta(minutes=15))
    assert info.value.code == "mfa_required"
    stale = Actor(
        kind=ActorKind.MEMBER,
        id="m",
        name="m",
        org_id="o",
        role="member",
        mfa_at=now - timedelta(minutes=16),
    )
    with pytest.raises(PreconditionFailed) as info:
        stale.require_fresh_mfa(now, timedelta(minutes=15))
    assert info.value.code == "mfa_not_fresh"
    fresh = Actor(
        kind=ActorKind.MEMBER,
        id="m",
        name="m",
        org_id="o",
        role="member",
        mfa_at=now - timedelta(minutes=14),
    )
    fresh.require_fresh_mfa(now, timedelta(minutes=15))


def test_a_single_factor_login_gives_a_session_without_mfa(
    client: TestClient, container: Container
) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "a@example.com", "display_name": "A"})
    issued = _session(container, org, member["id"], m.SessionKind.APP, mfa=False)
    actor = sessions.resolve_session(container.uow_factory, issued.token, container.clock.now())
    assert actor.mfa_at is None and actor.role == "member"


def test_deleting_a_member_ends_their_sessions(client: TestClient, container: Container) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "a@example.com", "display_name": "A"})
    issued = _session(container, org, member["id"], m.SessionKind.APP)
    assert client.delete(f"/api/v1/members/{member['id']}", headers=org.headers).status_code == 204
    assert client.get("/api/v1/organization", headers=_bearer(issued)).status_code == 401
