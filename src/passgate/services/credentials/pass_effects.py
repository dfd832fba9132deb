"""What must follow a change to an Apple Pass, written in the same transaction.

- an audit event (R20: who, when, from which SSO session), tied to the member so the
  pass page can show the member's recent events;
- a new version of every affected Wallet copy (its serial's version stamp and, signed
  just before the commit, its .pkpass: ``pass_files``), plus one "apns" outbox row per
  PassKit registration of those serials, so the devices fetch it.

Readers need nothing written here: the repositories' writes note what changed in the
reader change log (``adapters.db.change_log``), which the reader hubs follow (R16).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from passgate.domain import model as m
from passgate.domain.pass_records import WalletRegistration, WalletSerial
from passgate.services.actors import Actor
from passgate.services.credentials.wallet import APNS_TOPIC, next_pass_version
from passgate.services.events import audit
from passgate.services.ports import UnitOfWork


def audit_pass(
    uow: UnitOfWork,
    actor: Actor,
    apple_pass: m.ApplePass,
    type: str,
    now: datetime,
    **data: Any,
) -> m.Event:
    """An audit event about a pass, tied to its member so the pass page can list it."""
    return audit(
        uow,
        actor,
        org_id=apple_pass.org_id,
        type=type,
        object_type="apple_pass",
        object_id=apple_pass.id,
        now=now,
        member_id=apple_pass.member_id,
        extra=data,
    )


def new_versions(
    uow: UnitOfWork, serials: Iterable[WalletSerial], *, now: datetime, topic: str | None = None
) -> None:
    """Bump each serial's version and queue a push to every Wallet registered for it.

    The push topic is the pass type identifier; by default the one the Wallet
    registered with.
    """
    serial_repo = uow.repo(WalletSerial)
    registrations = uow.repo(WalletRegistration)
    for serial in serials:
        serial.updated_at = next_pass_version(serial.updated_at, now)
        serial_repo.update(serial)
        uow.changed_serials.add(serial.id)  # its file is signed before the commit
        for reg in registrations.all_where(serial=serial.id):
            uow.outbox.add(
                m.OutboxMessage(
                    org_id=serial.org_id,
                    topic=APNS_TOPIC,
                    target_id=reg.id,
                    payload={
                        "push_token": reg.push_token,
                        "topic": topic or reg.pass_type_id,
                        "serial": serial.id,
                        "registration_id": reg.id,
                    },
                    created_at=now,
                    next_attempt_at=now,
                )
            )


def serials_of(uow: UnitOfWork, device_ids: Iterable[str]) -> list[WalletSerial]:
    wanted = set(device_ids)
    if not wanted:
        return []
    repo = uow.repo(WalletSerial)
    return [s for d in sorted(wanted) for s in repo.all_where(device_row_id=d)]


def member_changed(uow: UnitOfWork, before: m.Member, after: m.Member, now: datetime) -> None:
    """A member's name shows on their pass, and their standing decides every tap:
    refresh the Wallet copies when either changes (readers learn of the standing from
    the change log)."""
    renamed = before.display_name != after.display_name
    standing = before.status != after.status
    if not (renamed or standing):
        return
    for apple_pass in uow.repo(m.ApplePass).all_where(member_id=after.id):
        if apple_pass.status == m.PassStatus.DELETED:
            continue
        devices = [
            d
            for d in uow.repo(m.PassDevice).all_where(pass_id=apple_pass.id)
            if d.status == m.DeviceStatus.ACTIVE
        ]
        new_versions(uow, serials_of(uow, [d.id for d in devices]), now=now)
