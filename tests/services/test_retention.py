"""The retention job: what only grows is pruned, what is still needed stays, on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.conftest import FixedClock, Org

from passgate.bootstrap import Container
from passgate.domain import model as m
from passgate.domain import sso as d
from passgate.domain.pass_records import WalletLog
from passgate.services.auth.sessions import LoginProof, start_session
from passgate.services.events import WEBHOOK_TOPIC
from passgate.worker.dispatcher import Dispatcher

TABLES = (
    "wallet_logs",
    "sso_login_states",
    "sso_saml_assertions",
    "sessions",
    "outbox",
)


def _rows(container: Container) -> dict[str, int]:
    with container.engine.connect() as conn:
        return {
            t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES
        }


def _world_at(container: Container, org: Org, member_id: str, now: datetime, tag: str) -> None:
    """One row of each kind, written at ``now``."""
    container.wallet_directory.add_logs(
        [WalletLog(m.new_id("wlg"), None, None, None, f"log {tag}", now)], keep=1000
    )
    with container.uow_factory(org.id) as uow:
        uow.repo(d.SsoLoginState).add(
            d.SsoLoginState(
                id=m.new_id("st"),
                org_id=org.id,
                protocol="oidc",
                purpose="browser",
                nonce="n",
                verifier_sealed=None,
                app_challenge=None,
                app_redirect_uri=None,
                app_state=None,
                created_at=now,
                expires_at=now + timedelta(minutes=10),
            )
        )
        uow.repo(d.SamlAssertionSeen).add(
            d.SamlAssertionSeen(
                id=m.new_id("saml"),
                org_id=org.id,
                assertion_id=f"a-{tag}",
                issuer="https://idp",
                expires_at=now + timedelta(minutes=5),
                created_at=now,
            )
        )
        start_session(
            uow,
            member=uow.repo(m.Member).get(member_id),
            kind=m.SessionKind.BROWSER,
            proof=LoginProof("oidc", "https://idp", True, ("otp",), now),
            policy=container.session_policy(m.SessionKind.BROWSER),
            now=now,
        )
        uow.outbox.add(
            m.OutboxMessage(
                org_id=org.id,
                topic=WEBHOOK_TOPIC,
                target_id=None,
                payload={"tag": tag},
                created_at=now,
                next_attempt_at=now + timedelta(days=365),  # not due: stays pending
            )
        )


def test_the_retention_job_prunes_expired_and_old_rows_only(
    client: TestClient, container: Container, clock: FixedClock
) -> None:
    org = Org(client, "acme")
    member = org.post("/members", {"email": "a@example.com", "display_name": "A"})["id"]
    worker = Dispatcher(container)
    worker.prune()
    base = _rows(container)

    _world_at(container, org, member, clock.now(), "old")
    with container.uow_factory(None) as uow:  # one delivered message among the old rows
        [message] = uow.outbox.claim(
            WEBHOOK_TOPIC, worker_id="t", now=clock.now() + timedelta(days=366), lease_s=1, limit=1
        )
        assert message.id is not None
        uow.outbox.mark_delivered(message.id, clock.now())
    clock.advance(days=31)
    _world_at(container, org, member, clock.now(), "new")
    grown = _rows(container)
    assert all(grown[t] == base[t] + 2 for t in TABLES), grown

    removed = worker.prune()
    after = _rows(container)
    # Every old row went (the outbox one because it was delivered); every new one stayed:
    # the new sign-in state and replay entry have not expired, the new message is pending.
    assert after == {t: base[t] + 1 for t in TABLES}
    assert removed["sessions"] == 1 and removed["outbox"] == 1
    assert worker.prune() == dict.fromkeys(removed, 0)  # nothing left to prune: idempotent
