"""How far a revocation has got: which readers applied it, which cannot yet, and why.

A change to a pass is one entry in the reader change log (``pass`` and its id) at some
sequence number S; a reader has applied it once the version its agent reported applied
(``applied`` on the link, stored per reader) stands for a sequence number >= S. Readers
that hold no Apple Pass keys (R13 not ready, or tampered: R14) are not counted: there is
nothing there to revoke. A reader not applied yet is offline (not heard from within
``reader_offline_after_s``: it denies every tap once its door's staleness limit has run
out since it was last heard from, R16) or pending (connected, the delta on its way).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from passgate.domain import model as m
from passgate.domain.readiness import reader_readiness
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory
from passgate.services.readers.reader_state import seq_of


@dataclass(frozen=True)
class ReaderRollout:
    reader_id: str
    name: str
    state: Literal["applied", "offline", "pending"]
    applied_at: datetime | None = None
    offline_since: datetime | None = None
    denies_at: datetime | None = None  # the staleness limit runs out (offline readers)


@dataclass(frozen=True)
class Rollout:
    seq: int
    readers: list[ReaderRollout]

    @property
    def applied(self) -> int:
        return sum(1 for r in self.readers if r.state == "applied")

    @property
    def total(self) -> int:
        return len(self.readers)


def pass_rollout(
    uow: UnitOfWork, pass_id: str, now: datetime, offline_after_s: float
) -> Rollout | None:
    """The rollout of the pass's last change; None when the log never saw one."""
    org_id = uow.org_id
    assert org_id is not None
    log = uow.reader_changes
    seq = log.last_seq(org_id, "pass", pass_id)
    if seq is None:
        _head, pruned_to = log.heads([org_id]).get(org_id, (0, 0))
        if pruned_to == 0:
            return None
        seq = pruned_to  # pruned: no later than the horizon
    if not uow.repo(m.PassDevice).all_where(pass_id=pass_id):
        return Rollout(seq, [])  # no device key: no reader holds anything of this pass
    applied = log.applied(org_id)
    doors = {d.id: d for d in uow.repo(m.Door).all_where()}
    out: list[ReaderRollout] = []
    for reader in sorted(uow.repo(m.Reader).all_where(), key=lambda r: (r.name, r.id)):
        if reader.tampered or not reader_readiness(reader.model, reader.tamper_protection).ready:
            continue  # holds no Apple Pass keys
        got = applied.get(reader.id)
        done = seq_of(got[0]) if got is not None else None
        if got is not None and done is not None and done >= seq:
            out.append(ReaderRollout(reader.id, reader.name, "applied", applied_at=got[2]))
            continue
        seen = reader.last_seen_at
        if not reader.online or seen is None or now - seen > timedelta(seconds=offline_after_s):
            door = doors.get(reader.door_id)
            limit = door.staleness_limit_s if door is not None else 0
            out.append(
                ReaderRollout(
                    reader.id,
                    reader.name,
                    "offline",
                    offline_since=seen,
                    denies_at=None if seen is None else seen + timedelta(seconds=limit),
                )
            )
            continue
        out.append(ReaderRollout(reader.id, reader.name, "pending"))
    return Rollout(seq, out)


@dataclass(frozen=True)
class RolloutQueries:
    """How far a pass's last change has reached the readers, as a whole query."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    offline_after_s: float

    def of_pass(self, actor: Actor, pass_id: str) -> Rollout | None:
        authorize(actor, "get_apple_pass")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return pass_rollout(uow, pass_id, self.clock.now(), self.offline_after_s)
