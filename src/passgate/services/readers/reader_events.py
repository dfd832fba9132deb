"""Event ingest and status from connected readers (R14, R15).

Each item carries the reader's sequence number; (reader id, sequence) is the event's
idempotency key, so a batch resent after a lost acknowledgement or a reader crash stores
nothing twice. The server acknowledges every sequence it holds, newly stored or not, and
the reader deletes only acknowledged events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.access import Reason
from passgate.domain.errors import ValidationError
from passgate.domain.readiness import validate_reader_model
from passgate.proto.unlock import MAX_ID, RESULT_REASONS
from passgate.services.events import record_events
from passgate.services.ports import ReaderLink, UnitOfWork

MAX_BATCH = 500
KINDS = ("access", "tamper", "remote_unlock")
_REASONS = {r.value for r in Reason}


@dataclass(frozen=True)
class ReaderEvent:
    sequence: int
    kind: str  # "access", "tamper" or "remote_unlock"
    occurred_at: datetime
    granted: bool
    reason: str
    member_id: str | None
    credential_id: str | None
    data: dict[str, Any]


def _field(item: dict[str, Any], name: str, kind: type, where: str, optional: bool = False) -> Any:
    value = item.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValidationError(f"{name} has the wrong type", field=f"{where}.{name}")
    if isinstance(value, str) and not value.isprintable():
        # PostgreSQL text cannot hold NUL; control characters have no place in ids either.
        raise ValidationError(f"{name} has control characters", field=f"{where}.{name}")
    return value


def parse_items(items: list[Any]) -> list[ReaderEvent]:
    """Validate a batch from the wire; ValidationError names the first bad field."""
    if len(items) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} events per batch", field="items")
    parsed = []
    for i, item in enumerate(items):
        where = f"items[{i}]"
        if not isinstance(item, dict):
            raise ValidationError("event must be an object", field=where)
        sequence = _field(item, "sequence", int, where)
        if not 0 <= sequence < 2**62:
            raise ValidationError("sequence out of range", field=f"{where}.sequence")
        kind = _field(item, "kind", str, where)
        if kind not in KINDS:
            raise ValidationError(
                "kind must be access, tamper or remote_unlock", field=f"{where}.kind"
            )
        try:
            occurred = datetime.fromisoformat(_field(item, "occurred_at", str, where))
        except ValueError as exc:
            raise ValidationError("not a timestamp", field=f"{where}.occurred_at") from exc
        if occurred.tzinfo is None:
            raise ValidationError("timestamp needs a zone", field=f"{where}.occurred_at")
        reason = _field(item, "reason", str, where)
        if kind == "access" and reason not in _REASONS:
            raise ValidationError("unknown reason", field=f"{where}.reason")
        extra = {}
        if kind == "remote_unlock":
            # An administrator's unlock command carried out (or refused) at the door.
            if reason not in RESULT_REASONS:
                raise ValidationError("unknown remote unlock reason", field=f"{where}.reason")
            command_id = _field(item, "command_id", str, where)
            if not 0 < len(command_id) <= MAX_ID:
                raise ValidationError("command_id is not a command id", field=f"{where}.command_id")
            extra["command_id"] = command_id
        for name in ("method", "flow", "transaction_id", "key_id"):
            value = _field(item, name, str, where, optional=True)
            if value is not None:
                extra[name] = value[:100]
        member_id = _field(item, "member_id", str, where, optional=True)
        credential_id = _field(item, "credential_id", str, where, optional=True)
        parsed.append(
            ReaderEvent(
                sequence=sequence,
                kind=kind,
                occurred_at=occurred,
                granted=_field(item, "granted", bool, where),
                reason=reason[:40],
                member_id=member_id[:40] if member_id else None,
                credential_id=credential_id[:40] if credential_id else None,
                data=extra,
            )
        )
    return parsed


def _type(item: ReaderEvent) -> str:
    if item.kind == "access":
        return "access.granted" if item.granted else "access.denied"
    if item.kind == "remote_unlock":
        return "door.unlocked_remotely" if item.granted else "door.remote_unlock_refused"
    return "reader.tampered"


def _event(org_id: str, reader: m.Reader, item: ReaderEvent, now: datetime) -> m.Event:
    access = item.kind == "access"
    decided = item.kind in ("access", "remote_unlock")  # granted or not, with a reason
    return m.Event(
        id=m.new_id("evt"),
        org_id=org_id,
        category=m.EventCategory.ACCESS if decided else m.EventCategory.AUDIT,
        type=_type(item),
        idempotency_key=f"{reader.id}:{item.sequence}",
        occurred_at=item.occurred_at,
        recorded_at=now,
        actor_type="reader",
        actor_id=reader.id,
        object_type="reader",
        object_id=reader.id,
        door_id=reader.door_id,
        reader_id=reader.id,
        member_id=item.member_id if access else None,
        credential_id=item.credential_id if access else None,
        granted=item.granted if decided else None,
        reason=item.reason if decided else None,
        data={"sequence": item.sequence, **item.data},
    )


def ingest(
    uow: UnitOfWork,
    reader_id: str,
    items: list[ReaderEvent],
    now: datetime,
    stored: list[ReaderEvent] | None = None,
) -> list[int]:
    """Store each event once; returns the sequences to acknowledge (all of them).

    The whole batch goes in as one multi-row insert that skips the sequences already
    held (the events' unique idempotency key decides, in the database, so two deliveries
    of one batch racing each other still store each event once); webhook deliveries,
    the tamper latch and "last used" follow for the events that were new.

    ``stored``, when given, receives the items that were new (not resent duplicates).
    """
    org_id = uow.org_id
    assert org_id is not None
    reader = uow.repo(m.Reader).get(reader_id)
    first: dict[int, ReaderEvent] = {}
    for item in items:
        first.setdefault(item.sequence, item)  # a repeat within the batch is a resend
    events = [_event(org_id, reader, item, now) for item in first.values()]
    new_keys = record_events(uow, events)
    new = [
        item
        for item, e in zip(first.values(), events, strict=True)
        if e.idempotency_key in new_keys
    ]
    tampers = [item.sequence for item in new if item.kind == "tamper"]
    if tampers:
        _mark_tampered(uow, reader, max(tampers))
    _mark_used(uow, [item for item in new if item.kind == "access" and item.granted])
    if stored is not None:
        stored.extend(new)
    return [item.sequence for item in items]


def _mark_used(uow: UnitOfWork, items: list[ReaderEvent]) -> None:
    """R17/R18 "last used": the pass and the device (or the app credential, R27) whose key
    opened the door; one update per credential and key of the batch, with its latest tap.

    Column-only updates: an admin may be suspending the same pass at this moment.
    """
    passes: dict[str, datetime] = {}
    keys: dict[str, datetime] = {}
    for item in items:
        if item.credential_id:
            passes[item.credential_id] = max(
                item.occurred_at, passes.get(item.credential_id, item.occurred_at)
            )
        key_id = item.data.get("key_id")
        if isinstance(key_id, str):
            keys[key_id] = max(item.occurred_at, keys.get(key_id, item.occurred_at))
    for credential_id, when in passes.items():
        uow.repo(m.ApplePass).advance("last_used_at", when, id=credential_id)
    for key_id, when in keys.items():
        uow.repo(m.PassDevice).advance("last_used_at", when, key_id=key_id)
        uow.repo(m.AppCredential).advance("last_used_at", when, key_id=key_id)


def _mark_tampered(uow: UnitOfWork, reader: m.Reader, sequence: int) -> None:
    # The server's copy of the latch: the reader stays cut off from key material until an
    # admin clears it, and tamper_seq tells the agent which tamper that clear covers.
    reader.tampered = True
    uow.repo(m.Reader).update(reader)
    links = uow.repo(ReaderLink)
    link = links.find(reader.id)
    if link is not None and sequence > link.tamper_seq:
        link.tamper_seq = sequence
        links.update(link)


def set_status(
    uow: UnitOfWork, reader_id: str, status: dict[str, Any] | None, *, online: bool, now: datetime
) -> None:
    """Online flag, last seen, and what the hardware reports (model, firmware)."""
    repo = uow.repo(m.Reader)
    reader = repo.find(reader_id)
    if reader is None:
        return
    reader.online = online
    reader.last_seen_at = now
    if status:
        firmware = status.get("firmware")
        if firmware is not None:
            if not (isinstance(firmware, str) and 0 < len(firmware) <= 40):
                raise ValidationError("firmware must be 1 to 40 characters", field="firmware")
            if not firmware.isprintable():
                raise ValidationError("firmware has control characters", field="firmware")
            reader.firmware = firmware
        model = status.get("model")
        if isinstance(model, str):
            reader.model = validate_reader_model(model)
    repo.update(reader)


def touch_seen(uow: UnitOfWork, reader_ids: Sequence[str], now: datetime) -> None:
    """These readers spoke (a message, a heartbeat's answer): move their last seen, in
    one column-only statement for the batch."""
    if reader_ids:
        uow.repo(m.Reader).advance("last_seen_at", now, id=tuple(reader_ids))
