"""Event ingest and status from connected readers (R14, R15).

Each item carries the reader's sequence number; (reader id, sequence) is the event's
idempotency key, so a batch resent after a lost acknowledgement or a reader crash stores
nothing twice. The server acknowledges every sequence it holds, newly stored or not, and
the reader deletes only acknowledged events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.access import Reason
from passgate.domain.errors import ValidationError
from passgate.domain.readiness import validate_reader_model
from passgate.proto import link as wire
from passgate.services.events import record_events
from passgate.services.ports import ReaderLink, UnitOfWork

_REASONS = frozenset(r.value for r in Reason)


def check_reasons(items: Iterable[wire.EventItem]) -> None:
    """The wire schema types each item; an access decision's reason must also be one the
    access rule gives (R6-R16). ValidationError names the first item that is not."""
    for i, item in enumerate(items):
        if item.kind == "access" and item.reason not in _REASONS:
            raise ValidationError("unknown reason", field=f"items[{i}].reason")


def _data(item: wire.EventItem) -> dict[str, Any]:
    """What the event keeps beyond its columns: the sequence and the optional details."""
    data: dict[str, Any] = {"sequence": item.sequence}
    if isinstance(item, wire.RemoteUnlockEvent):
        data["command_id"] = item.command_id
    elif isinstance(item, wire.AccessEvent):
        for name in ("method", "flow", "transaction_id", "key_id"):
            value = getattr(item, name)
            if value is not None:
                data[name] = value
    return data


def _type(item: wire.EventItem) -> str:
    if item.kind == "access":
        return "access.granted" if item.granted else "access.denied"
    if item.kind == "remote_unlock":
        return "door.unlocked_remotely" if item.granted else "door.remote_unlock_refused"
    return "reader.tampered"


def _event(org_id: str, reader: m.Reader, item: wire.EventItem, now: datetime) -> m.Event:
    access = item if isinstance(item, wire.AccessEvent) else None
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
        member_id=access.member_id if access else None,
        credential_id=access.credential_id if access else None,
        granted=item.granted if decided else None,
        reason=item.reason if decided else None,
        data=_data(item),
    )


def ingest(
    uow: UnitOfWork,
    reader_id: str,
    items: Sequence[wire.EventItem],
    now: datetime,
    stored: list[wire.EventItem] | None = None,
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
    first: dict[int, wire.EventItem] = {}
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
    _mark_used(uow, [i for i in new if isinstance(i, wire.AccessEvent) and i.granted])
    if stored is not None:
        stored.extend(new)
    return [item.sequence for item in items]


def _mark_used(uow: UnitOfWork, items: list[wire.AccessEvent]) -> None:
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
        key_id = item.key_id
        if key_id is not None:
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
    uow: UnitOfWork,
    reader_id: str,
    status: wire.ReaderStatus | None,
    *,
    online: bool,
    now: datetime,
) -> None:
    """Online flag, last seen, and what the hardware reports (model, firmware)."""
    repo = uow.repo(m.Reader)
    reader = repo.find(reader_id)
    if reader is None:
        return
    reader.online = online
    reader.last_seen_at = now
    if status is not None:
        # The wire schema bounds both fields; the model must also be one we know (R13).
        if status.firmware is not None:
            reader.firmware = status.firmware
        if status.model is not None:
            reader.model = validate_reader_model(status.model)
    repo.update(reader)


def touch_seen(uow: UnitOfWork, reader_ids: Sequence[str], now: datetime) -> None:
    """These readers spoke (a message, a heartbeat's answer): move their last seen, in
    one column-only statement for the batch."""
    if reader_ids:
        uow.repo(m.Reader).advance("last_seen_at", now, id=tuple(reader_ids))
