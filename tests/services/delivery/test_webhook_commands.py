"""``WebhookCommands`` on the fake ports: the role is checked by the command itself, the
secret is shown once and stored sealed, and a test delivery owns its HTTP client (made
for it, closed after it, whatever the receiver did)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from tests.fakes import FakeDatabase, FakeUnitOfWorkFactory, FixedClock

from passgate.domain import model as m
from passgate.domain.errors import PermissionDenied
from passgate.services.actors import Actor, ActorKind
from passgate.services.delivery.webhooks import WebhookCommands

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
ADMIN = Actor(kind=ActorKind.API_KEY, id="key_admin", name="ci", org_id="org_a", role="admin")
AUDITOR = Actor(kind=ActorKind.API_KEY, id="key_ro", name="ro", org_id="org_a", role="read_only")


class Box:
    """Reversible, not secret: enough to see that the command seals what it stores."""

    def seal(self, plaintext: bytes) -> str:
        return "sealed:" + base64.b64encode(plaintext).decode()

    def open(self, sealed: str) -> bytes:
        assert sealed.startswith("sealed:")
        return base64.b64decode(sealed.removeprefix("sealed:"))


class Poster:
    def __init__(self, status: int | None) -> None:
        self.status = status
        self.posts: list[tuple[str, dict[str, str]]] = []
        self.closed = False

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        self.posts.append((url, headers))
        if self.status is None:
            raise ConnectionRefusedError("nobody listens")
        return self.status

    def close(self) -> None:
        self.closed = True


def _commands(db: FakeDatabase, posters: list[Poster]) -> WebhookCommands:
    made = iter(posters)
    return WebhookCommands(
        FakeUnitOfWorkFactory(db),
        FixedClock(NOW),
        Box(),
        allowed_hosts=("hooks.example.com",),
        poster=lambda: next(made),
    )


def test_create_shows_the_secret_once_stores_it_sealed_and_audits() -> None:
    db = FakeDatabase()
    created = _commands(db, []).create(
        ADMIN, url="https://hooks.example.com/in", event_types=["tap", "tap"]
    )
    stored = db.get(m.Webhook, created.webhook.id)
    assert created.secret.startswith("whsec_") and created.secret not in stored.secret_encrypted
    assert Box().open(stored.secret_encrypted).decode() == created.secret
    assert stored.event_types == ["tap"] and stored.created_at == NOW
    assert [e.type for e in db.events] == ["webhook.created"]


def test_a_read_only_key_lists_webhooks_and_changes_none() -> None:
    db = FakeDatabase()
    commands = _commands(db, [])
    hook = commands.create(ADMIN, url="https://hooks.example.com/in", event_types=["tap"]).webhook
    items, total = commands.page(AUDITOR, limit=10)
    assert [h.id for h in items] == [hook.id] and total == 1
    for change in (
        lambda: commands.update(AUDITOR, hook.id, {"active": False}),
        lambda: commands.delete(AUDITOR, hook.id),
        lambda: commands.test(AUDITOR, hook.id),
    ):
        with pytest.raises(PermissionDenied):
            change()
    assert db.get(m.Webhook, hook.id).active and db.commits == 1


@pytest.mark.parametrize(
    ("status", "delivered", "outcome"),
    [(204, True, "http 204"), (500, False, "http 500"), (None, False, "transport: Connection")],
)
def test_a_test_delivery_closes_its_client_and_audits_the_outcome(
    status: int | None, delivered: bool, outcome: str
) -> None:
    db = FakeDatabase()
    poster = Poster(status)
    commands = _commands(db, [poster])
    hook = commands.create(ADMIN, url="https://hooks.example.com/in", event_types=["tap"]).webhook
    result = commands.test(ADMIN, hook.id)
    assert result.delivered is delivered and result.outcome.startswith(outcome)
    assert poster.closed and len(poster.posts) == 1
    ((url, headers),) = poster.posts
    assert url == hook.url and any("signature" in k.lower() for k in headers)
    assert [e.type for e in db.events] == ["webhook.created", "webhook.tested"]
