"""Webhook subscriptions and the delivery of queued webhook messages."""

from __future__ import annotations

import dataclasses
import json
import random
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from passgate.domain import model as m
from passgate.domain.destinations import check_host, host_of
from passgate.domain.errors import ValidationError
from passgate.domain.validation import validate_url
from passgate.proto import webhook as wh
from passgate.services import resources
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.events import WEBHOOK_TOPIC, audit, summarize
from passgate.services.ports import Clock, HttpPoster, SecretBox, UnitOfWork, UnitOfWorkFactory
from passgate.services.resources import ResourceSpec

MAX_EVENT_TYPES = 50
# Endpoints delivered to at once in a worker pass: one slow receiver holds up only itself.
PARALLEL_ENDPOINTS = 8


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: m.Webhook
    secret: str  # shown once


def check_webhook(url: str, event_types: list[str], allowed_hosts: Collection[str] = ()) -> None:
    validate_url(url)
    # What the URL alone tells (a literal internal address, localhost); the worker checks
    # again what the name resolves to at every delivery.
    check_host(host_of(url), allowed_hosts)
    if len(event_types) > MAX_EVENT_TYPES:
        raise ValidationError(
            f"event_types may list at most {MAX_EVENT_TYPES} types", field="event_types"
        )


def _validate(_uow: UnitOfWork, hook: m.Webhook) -> None:
    check_webhook(hook.url, hook.event_types)


WEBHOOK = ResourceSpec(name="webhook", entity=m.Webhook, id_prefix="whk", validate=_validate)


def create_webhook(
    uow: UnitOfWork,
    actor: Actor,
    box: SecretBox,
    *,
    url: str,
    event_types: list[str],
    now: datetime,
    allowed_hosts: Collection[str] = (),
) -> CreatedWebhook:
    actor.require_write()
    org_id = actor.require_org()
    check_webhook(url, event_types, allowed_hosts)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = m.Webhook(
        id=m.new_id("whk"),
        org_id=org_id,
        url=url,
        event_types=sorted(set(event_types)),
        active=True,
        secret_encrypted=box.seal(secret.encode()),
        created_at=now,
    )
    uow.repo(m.Webhook).add(hook)
    audit(
        uow,
        actor,
        org_id=org_id,
        type="webhook.created",
        object_type="webhook",
        object_id=hook.id,
        now=now,
        after=summarize(hook),
    )
    return CreatedWebhook(webhook=hook, secret=secret)


def update_webhook(
    uow: UnitOfWork,
    actor: Actor,
    webhook_id: str,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    allowed_hosts: Collection[str] = (),
) -> m.Webhook:
    if "url" in changes:
        check_host(host_of(str(changes["url"])), allowed_hosts)

    def validate(_uow: UnitOfWork, hook: m.Webhook) -> None:
        # The operator's allowed hosts hold for a change as they did for the creation.
        check_webhook(hook.url, hook.event_types, allowed_hosts)

    spec = dataclasses.replace(WEBHOOK, validate=validate)
    return resources.update(uow, actor, spec, webhook_id, changes, now)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int
    base_delay_s: float


def _backoff(policy: DeliveryPolicy, attempts: int) -> timedelta:
    delay = policy.base_delay_s * (2 ** min(attempts, 16))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter only


def deliver_webhooks(
    uow_factory: UnitOfWorkFactory,
    poster: HttpPoster,
    box: SecretBox,
    policy: DeliveryPolicy,
    *,
    worker_id: str,
    now: datetime,
    limit: int = 50,
) -> int:
    """Deliver due webhook messages; returns how many were handled (delivered or not).

    Each endpoint is its own lane: lanes run side by side, and within a lane the first
    retryable failure (timeout, 5xx...) ends the lane's pass: its other messages wait
    out the same backoff without being tried, so a dead endpoint costs one timeout per
    backoff period and never delays another organization's deliveries.
    """
    with uow_factory(None) as uow:
        batch = uow.outbox.claim(
            WEBHOOK_TOPIC, worker_id=worker_id, now=now, lease_s=60, limit=limit
        )
    lanes: dict[str | None, list[m.OutboxMessage]] = {}
    for message in batch:
        lanes.setdefault(message.target_id, []).append(message)

    def run(lane: Sequence[m.OutboxMessage]) -> None:
        _deliver_lane(uow_factory, poster, box, policy, lane, now)

    if len(lanes) == 1:
        run(batch)
    elif lanes:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_ENDPOINTS, len(lanes))) as pool:
            list(pool.map(run, lanes.values()))  # re-raises a lane's unexpected error
    return len(batch)


def _deliver_lane(
    uow_factory: UnitOfWorkFactory,
    poster: HttpPoster,
    box: SecretBox,
    policy: DeliveryPolicy,
    lane: Sequence[m.OutboxMessage],
    now: datetime,
) -> None:
    for i, message in enumerate(lane):
        assert message.id is not None and message.target_id is not None
        error = _deliver_one(uow_factory, poster, box, message, now)
        with uow_factory(None) as uow:
            if error is None:
                uow.outbox.mark_delivered(message.id, now)
            elif error.startswith("permanent:") or message.attempts + 1 >= policy.max_attempts:
                uow.outbox.mark_failed(message.id, error=error, now=now)
            else:
                retry_at = now + _backoff(policy, message.attempts)
                uow.outbox.mark_retry(message.id, error=error, next_attempt_at=retry_at)
                for waiting in lane[i + 1 :]:
                    assert waiting.id is not None
                    uow.outbox.defer(waiting.id, next_attempt_at=retry_at)
                return


def _deliver_one(
    uow_factory: UnitOfWorkFactory,
    poster: HttpPoster,
    box: SecretBox,
    message: m.OutboxMessage,
    now: datetime,
) -> str | None:
    assert message.target_id is not None
    with uow_factory(message.org_id, write=False) as uow:
        hook = uow.repo(m.Webhook).find(message.target_id)
    if hook is None or not hook.active:
        return "permanent: webhook deleted or disabled"
    body = json.dumps(message.payload, sort_keys=True, separators=(",", ":")).encode()
    headers = _headers(box, hook, message, body, int(now.timestamp()))
    try:
        status = poster.post(hook.url, body, headers)
    except ValidationError as exc:
        return f"permanent: {exc.message}"  # the SSRF rule refused the destination
    except OSError as exc:
        return f"transport: {type(exc).__name__}"
    if 200 <= status < 300:
        return None
    if status in (408, 429) or status >= 500:
        return f"http {status}"
    return f"permanent: http {status}"


def _headers(
    box: SecretBox, hook: m.Webhook, message: m.OutboxMessage, body: bytes, timestamp: int
) -> dict[str, str]:
    payload: dict[str, Any] = message.payload
    return _signed(box, hook, str(payload.get("type", "")), str(message.id), body, timestamp)


def _signed(
    box: SecretBox, hook: m.Webhook, event_type: str, delivery_id: str, body: bytes, timestamp: int
) -> dict[str, str]:
    secret = box.open(hook.secret_encrypted)
    return {
        "Content-Type": "application/json",
        wh.SIGNATURE_HEADER: wh.sign(secret, timestamp, body),
        wh.EVENT_HEADER: event_type,
        wh.DELIVERY_HEADER: delivery_id,
    }


TEST_EVENT = "webhook.test"


@dataclass(frozen=True)
class WebhookTestResult:
    webhook: m.Webhook
    delivered: bool
    outcome: str  # "http 204", "transport: ConnectError", "refused: ..." (SSRF rule)


def send_test(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    poster: HttpPoster,
    box: SecretBox,
    webhook_id: str,
    *,
    now: datetime,
) -> WebhookTestResult:
    """Send one signed ``webhook.test`` message now, through the same poster (and so the same
    per-delivery SSRF check) and signature as real deliveries; the outcome is audited."""
    actor.require_write()
    org_id = actor.require_org()
    with uow_factory(org_id, write=False) as uow:
        hook = uow.repo(m.Webhook).get(webhook_id)
    delivery_id = m.new_id("tst")
    payload = {
        "id": delivery_id,
        "type": TEST_EVENT,
        "org_id": org_id,
        "occurred_at": now.isoformat(),
        "data": {"webhook_id": hook.id},
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = _signed(box, hook, TEST_EVENT, delivery_id, body, int(now.timestamp()))
    try:
        status = poster.post(hook.url, body, headers)
        outcome, delivered = f"http {status}", 200 <= status < 300
    except ValidationError as exc:
        outcome, delivered = f"refused: {exc.message}", False
    except OSError as exc:
        outcome, delivered = f"transport: {type(exc).__name__}", False
    with uow_factory(org_id) as uow:
        audit(
            uow,
            actor,
            org_id=org_id,
            type="webhook.tested",
            object_type="webhook",
            object_id=hook.id,
            now=now,
            after={"delivered": delivered, "outcome": outcome},
        )
    return WebhookTestResult(webhook=hook, delivered=delivered, outcome=outcome)


class ClosingPoster(HttpPoster, Protocol):
    """A poster made for one test delivery and closed after it."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class WebhookCommands:
    """Webhooks as whole commands for every caller (API, dashboard): each checks the
    caller's role, owns its transaction and reads the clock."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    box: SecretBox
    allowed_hosts: Collection[str]
    # A new HTTP client for one test delivery (the same SSRF rule as real deliveries).
    poster: Callable[[], ClosingPoster]

    def page(self, actor: Actor, *, limit: int, offset: int = 0) -> tuple[list[m.Webhook], int]:
        authorize(actor, "list_webhooks")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.repo(m.Webhook).list(limit=limit, offset=offset)

    def all(self, actor: Actor) -> list[m.Webhook]:
        authorize(actor, "list_webhooks")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list(uow.repo(m.Webhook).all_where())

    def get(self, actor: Actor, webhook_id: str) -> m.Webhook:
        authorize(actor, "get_webhook")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return uow.repo(m.Webhook).get(webhook_id)

    def create(self, actor: Actor, *, url: str, event_types: list[str]) -> CreatedWebhook:
        authorize(actor, "create_webhook")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return create_webhook(
                uow,
                actor,
                self.box,
                url=url,
                event_types=event_types,
                now=now,
                allowed_hosts=self.allowed_hosts,
            )

    def update(self, actor: Actor, webhook_id: str, changes: Mapping[str, Any]) -> m.Webhook:
        authorize(actor, "update_webhook")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return update_webhook(
                uow, actor, webhook_id, changes, now=now, allowed_hosts=self.allowed_hosts
            )

    def delete(self, actor: Actor, webhook_id: str) -> m.Webhook:
        authorize(actor, "delete_webhook")
        now = self.clock.now()
        with self.uow_factory(actor.require_org()) as uow:
            return resources.delete_returning(uow, actor, WEBHOOK, webhook_id, now)

    def test(self, actor: Actor, webhook_id: str) -> WebhookTestResult:
        authorize(actor, "test_webhook")
        poster = self.poster()
        try:
            return send_test(
                self.uow_factory, actor, poster, self.box, webhook_id, now=self.clock.now()
            )
        finally:
            poster.close()

    def deliver_due(self, poster: HttpPoster, policy: DeliveryPolicy, *, worker_id: str) -> int:
        """The worker's webhook lane: deliver the due messages now (:func:`deliver_webhooks`)."""
        return deliver_webhooks(
            self.uow_factory, poster, self.box, policy, worker_id=worker_id, now=self.clock.now()
        )
