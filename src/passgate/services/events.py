"""The event log: audit records and access decisions, each fanned out to webhooks.

An event and the outbox rows for its webhooks are written in the caller's
transaction, so a committed change always has its event and its deliveries,
and a rolled-back one has neither.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passgate.domain.model import Event, EventCategory, OutboxMessage, Webhook, new_id
from passgate.services.actors import Actor
from passgate.services.ports import UnitOfWork

WEBHOOK_TOPIC = "webhook"
EVENT_LIST = "events"  # the kind named in the event list's cursors
# Fields never copied into audit summaries, whatever the entity.
SECRET_FIELDS = frozenset({"secret_hash", "secret_encrypted", "secret", "authentication_token"})


def summarize(entity: Any) -> dict[str, Any]:
    """A JSON-safe snapshot of an entity for audit before/after, without secrets."""
    raw = dataclasses.asdict(entity)
    return {k: _jsonable(v) for k, v in raw.items() if k not in SECRET_FIELDS}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def event_payload(event: Event) -> dict[str, Any]:
    body = summarize(event)
    body.pop("idempotency_key", None)
    return body


def record_event(uow: UnitOfWork, event: Event) -> bool:
    """Store ``event`` once (by idempotency key) and queue it for matching webhooks."""
    stored = uow.events.add(event)
    if not stored:
        return False
    hooks: list[Webhook] = uow.active_webhooks(event.org_id)
    payload = event_payload(event)
    for hook in hooks:
        if hook.event_types and event.type not in hook.event_types:
            continue
        uow.outbox.add(
            OutboxMessage(
                org_id=event.org_id,
                topic=WEBHOOK_TOPIC,
                target_id=hook.id,
                payload=payload,
                created_at=event.recorded_at,
                next_attempt_at=event.recorded_at,
            )
        )
    return True


def record_events(uow: UnitOfWork, events: list[Event]) -> set[str]:
    """Batch form of :func:`record_event`: one multi-row insert for the events, one for
    their webhook deliveries. Returns the idempotency keys stored now (the others were
    stored before, or repeat an earlier event of the same batch)."""
    if not events:
        return set()
    stored = uow.events.add_many(events)
    new = [e for e in events if e.idempotency_key in stored]
    messages: list[OutboxMessage] = []
    hooks_of: dict[str, list[Webhook]] = {}
    for event in new:
        if event.org_id not in hooks_of:
            hooks_of[event.org_id] = uow.active_webhooks(event.org_id)
        hooks = [
            h for h in hooks_of[event.org_id] if not h.event_types or event.type in h.event_types
        ]
        if not hooks:
            continue
        payload = event_payload(event)
        messages.extend(
            OutboxMessage(
                org_id=event.org_id,
                topic=WEBHOOK_TOPIC,
                target_id=hook.id,
                payload=payload,
                created_at=event.recorded_at,
                next_attempt_at=event.recorded_at,
            )
            for hook in hooks
        )
    uow.outbox.add_many(messages)
    return stored


def audit(
    uow: UnitOfWork,
    actor: Actor,
    *,
    org_id: str,
    type: str,
    object_type: str,
    object_id: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    member_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Event:
    event_id = new_id("evt")
    data: dict[str, Any] = dict(extra or {})
    if before is not None:
        data["before"] = before
    if after is not None:
        data["after"] = after
    if actor.session_id is not None:
        data["session_id"] = actor.session_id
    event = Event(
        id=event_id,
        org_id=org_id,
        category=EventCategory.AUDIT,
        type=type,
        idempotency_key=event_id,
        occurred_at=now,
        recorded_at=now,
        actor_type=actor.kind.value,
        actor_id=actor.id,
        actor_name=actor.name,
        object_type=object_type,
        object_id=object_id,
        member_id=member_id,
        data=data,
    )
    record_event(uow, event)
    return event


@dataclass(frozen=True)
class EventFilter:
    """Which events to list (every field optional; None means any)."""

    category: str | None = None
    type: str | None = None
    door_id: str | None = None
    member_id: str | None = None
    reader_id: str | None = None
    granted: bool | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
