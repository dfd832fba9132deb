"""Remote unlock: an administrator opens a door now, through its reader.

``DoorCommands.request_unlock`` checks the caller's role, refuses a door that must not
open (lockdown, every reader tampered or offline, no reader at all) and in one
transaction writes a command row for one reader of the door and the
``door.unlock_requested`` audit event naming who asked, when and from which SSO session.
Writing the row notes a ``command`` entry naming the reader in the reader change log
(``NOTE``; a kind of its own, so no cache content is resent for it). The hub of the
process holding that reader's connection, in whichever server process, follows the log:
on a pass whose entries name a command for a connected reader (or when a reader
connects) it picks that organization's pending commands up (``claim``), sends each as a
signed frame bound to the connection (``proto.unlock``), and the reader answers with its result
(``record_result``); the reader also queues a ``remote_unlock`` event through its durable
event queue, stored once like a tap. A command lives ``LIFETIME_S``: one not delivered
by then, or not answered shortly after, ends ``expired``.

States: pending -> sent -> done | failed, or pending/sent -> expired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain import model as m
from passgate.domain.errors import Conflict
from passgate.domain.readiness import is_online
from passgate.proto import link as wire
from passgate.proto.unlock import make_unlock
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.events import audit
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

LIFETIME_S = 30
# The reader change log's note kind for a new command (object id: the reader's id).
NOTE = "command"
# A sent command whose answer has not come this long after its expiry has none coming.
ANSWER_GRACE_S = 10
PENDING, SENT, DONE, FAILED, EXPIRED = "pending", "sent", "done", "failed", "expired"
STATES = (PENDING, SENT, DONE, FAILED, EXPIRED)
OPEN_STATES = (PENDING, SENT)


@dataclass
class DoorCommand:
    id: str
    org_id: str
    door_id: str
    reader_id: str
    requested_by: str  # the actor's id (member, API key)
    created_at: datetime
    expires_at: datetime
    state: str = PENDING
    reason: str | None = None  # a proto.unlock result reason, or why it expired
    finished_at: datetime | None = None


def _choose_reader(
    uow: UnitOfWork, door: m.Door, now: datetime, offline_after: timedelta
) -> m.Reader:
    """The reader to send the command to, or Conflict naming the rule that forbids it."""
    if door.lockdown:
        raise Conflict(
            f"door {door.name} is locked down; release the lockdown before unlocking it",
            field="door_id",
            code="door_lockdown",
        )
    readers = uow.repo(m.Reader).all_where(door_id=door.id)
    if not readers:
        raise Conflict(
            f"door {door.name} has no reader to unlock it", field="door_id", code="no_reader"
        )
    untampered = [r for r in readers if not r.tampered]
    if not untampered:
        raise Conflict(
            f"the reader of door {door.name} is tampered; clear the tamper first (R14)",
            field="door_id",
            code="reader_tampered",
        )
    online = [r for r in untampered if is_online(r.online, r.last_seen_at, now, offline_after)]
    if not online:
        raise Conflict(
            f"the reader of door {door.name} is offline; a command cannot reach it",
            field="door_id",
            code="reader_offline",
        )
    # The one heard from last: the likeliest to be connected right now.
    return max(online, key=lambda r: (r.last_seen_at or now, r.id))


def _expire(cmd: DoorCommand, now: datetime) -> bool:
    """End an open command whose time is up; True when it changed."""
    if cmd.state == PENDING and now >= cmd.expires_at:
        cmd.state, cmd.reason, cmd.finished_at = EXPIRED, "not_delivered", now
        return True
    if cmd.state == SENT and now >= cmd.expires_at + timedelta(seconds=ANSWER_GRACE_S):
        cmd.state, cmd.reason, cmd.finished_at = EXPIRED, "no_answer", now
        return True
    return False


@dataclass(frozen=True)
class DoorCommands:
    """Remote unlock as whole commands: each checks the role, owns its transaction."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    offline_after: timedelta  # a reader not heard from for this long is offline

    def request_unlock(self, actor: Actor, door_id: str) -> DoorCommand:
        authorize(actor, "unlock_door")
        actor.require_write()
        org_id = actor.require_org()
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            door = uow.repo(m.Door).get(door_id)
            reader = _choose_reader(uow, door, now, self.offline_after)
            cmd = DoorCommand(
                id=m.new_id("cmd"),
                org_id=org_id,
                door_id=door.id,
                reader_id=reader.id,
                requested_by=actor.id,
                created_at=now,
                expires_at=now + timedelta(seconds=LIFETIME_S),
            )
            uow.repo(DoorCommand).add(cmd)
            audit(
                uow,
                actor,
                org_id=org_id,
                type="door.unlock_requested",
                object_type="door",
                object_id=door.id,
                now=now,
                extra={
                    "command_id": cmd.id,
                    "reader_id": reader.id,
                    "expires_at": cmd.expires_at.isoformat(),
                },
            )
        return cmd

    def get(self, actor: Actor, command_id: str) -> DoorCommand:
        authorize(actor, "get_door_command")
        org_id = actor.require_org()
        now = self.clock.now()
        with self.uow_factory(org_id, write=False) as uow:
            cmd = uow.repo(DoorCommand).get(command_id)
        if cmd.state in OPEN_STATES and _expire(cmd, now):
            with self.uow_factory(org_id) as uow:
                cmd = uow.repo(DoorCommand).get(command_id)
                if _expire(cmd, now):
                    uow.repo(DoorCommand).update(cmd)
        return cmd


def claim(
    uow_factory: UnitOfWorkFactory, org_id: str, reader_ids: list[str], now: datetime
) -> list[DoorCommand]:
    """The reader hub's hook: the pending commands of these connected readers, marked
    sent in the same transaction (so two passes never send one twice); open commands
    whose time is up are expired on the way."""
    wanted = set(reader_ids)
    out: list[DoorCommand] = []
    with uow_factory(org_id, write=False) as uow:
        # Most passes find nothing open: a read, never the write lock, answers them.
        repo = uow.repo(DoorCommand)
        if not any(repo.count(state=state) for state in OPEN_STATES):
            return out
    with uow_factory(org_id) as uow:
        repo = uow.repo(DoorCommand)
        for state in OPEN_STATES:
            for cmd in repo.all_where(state=state):
                if _expire(cmd, now):
                    repo.update(cmd)
                elif cmd.state == PENDING and cmd.reader_id in wanted:
                    cmd.state = SENT
                    repo.update(cmd)
                    out.append(cmd)
    return out


def claim_frames(
    uow_factory: UnitOfWorkFactory,
    org_id: str,
    nonces: Mapping[str, str | None],
    signing_key: Callable[[str], ec.EllipticCurvePrivateKey],
    now: datetime,
) -> list[tuple[str, dict[str, Any]]]:
    """(reader id, signed unlock frame) for each command :func:`claim` hands out to the
    connected readers ``nonces`` names (reader id -> its connection nonce). A reader
    without a connection nonce cannot bind a frame: its commands wait and expire."""
    bound = {rid: nonce for rid, nonce in nonces.items() if nonce is not None}
    claimed = claim(uow_factory, org_id, list(bound), now)
    if not claimed:
        return []
    key = signing_key(org_id)
    return [
        (
            cmd.reader_id,
            make_unlock(
                key,
                reader_id=cmd.reader_id,
                door_id=cmd.door_id,
                command_id=cmd.id,
                expires_at_ms=int(cmd.expires_at.timestamp() * 1000),
                link_nonce=bound[cmd.reader_id],
            ),
        )
        for cmd in claimed
    ]


def record_result(
    uow_factory: UnitOfWorkFactory,
    org_id: str,
    reader_id: str,
    msg: wire.UnlockResult,
    now: datetime,
) -> DoorCommand | None:
    """The reader's answer: done or failed (the wire schema checked that its reason is an
    unlock result and agrees with ``ok``). Only the reader the command was sent to can
    answer it, and only once; anything else changes nothing (None)."""
    command_id, ok, reason = msg.command_id, msg.ok, msg.reason
    with uow_factory(org_id) as uow:
        repo = uow.repo(DoorCommand)
        cmd = repo.find(command_id)
        if cmd is None or cmd.reader_id != reader_id or cmd.state != SENT:
            return None
        cmd.state = DONE if ok else FAILED
        cmd.reason, cmd.finished_at = reason, now
        repo.update(cmd)
    return cmd
