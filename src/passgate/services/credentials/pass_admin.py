"""Administrators manage the organization's Apple Passes (R17-R20).

Suspend and resume flip what readers and Wallet copies see; delete revokes the pass
and every device key for good. Each is one transaction with its audit event, the
pushes to every registered Wallet and the reader update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from passgate.domain import model as m
from passgate.domain.errors import Conflict, ValidationError
from passgate.domain.pass_records import WalletLog, WalletRegistration, WalletSerial
from passgate.domain.passes import devices_column
from passgate.services.actors import Actor
from passgate.services.authz import authorize
from passgate.services.credentials.pass_effects import (
    audit_pass,
    new_versions,
    serials_of,
)
from passgate.services.events import EventFilter
from passgate.services.paging import Page, decode_cursor
from passgate.services.ports import Clock, UnitOfWork, UnitOfWorkFactory

DEVICE_FILTERS = ("iphone", "watch", "both", "none")
PASS_LIST = "apple_passes"  # noqa: S105 (the kind named in this list's cursors)
RECENT = 20
_EVENT_TYPES = {
    "suspend": "apple_pass.suspended",
    "resume": "apple_pass.resumed",
    "delete": "apple_pass.deleted",
}


@dataclass(frozen=True)
class PassRow:
    apple_pass: m.ApplePass
    member: m.Member
    devices: str  # iphone / watch / both / none
    last_used_at: datetime | None


@dataclass(frozen=True)
class PassDetail:
    row: PassRow
    devices: list[m.PassDevice]
    registrations: list[WalletRegistration]
    serials: list[WalletSerial]
    logs: list[WalletLog]
    events: list[m.Event]


def _row(apple_pass: m.ApplePass, member: m.Member, devices: list[m.PassDevice]) -> PassRow:
    active = [d for d in devices if d.status == m.DeviceStatus.ACTIVE]
    used = [t for t in [apple_pass.last_used_at, *(d.last_used_at for d in devices)] if t]
    return PassRow(
        apple_pass=apple_pass,
        member=member,
        devices=devices_column([d.kind for d in active]),
        last_used_at=max(used) if used else None,
    )


def list_passes(
    uow: UnitOfWork,
    *,
    status: str | None,
    device: str | None,
    search: str | None,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
) -> Page[PassRow]:
    """Newest first; filtered, joined and paged in SQL (adapters/db/lists.py). ``cursor``
    is the previous page's next cursor (services/paging.py)."""
    if device is not None and device not in DEVICE_FILTERS:
        raise ValidationError(f"device must be one of {', '.join(DEVICE_FILTERS)}", field="device")
    after = decode_cursor(PASS_LIST, cursor) if cursor is not None else None
    page = uow.pass_list.page(
        status=status, device=device, search=search, limit=limit, after=after, offset=offset
    )
    rows = [_row(x.apple_pass, x.member, x.devices) for x in page.items]
    return Page(items=rows, next=page.next, total=page.total)


def pass_detail(uow: UnitOfWork, pass_id: str) -> PassDetail:
    apple_pass = uow.repo(m.ApplePass).get(pass_id)
    member = uow.repo(m.Member).get(apple_pass.member_id)
    devices = sorted(
        uow.repo(m.PassDevice).all_where(pass_id=pass_id), key=lambda d: (d.added_at, d.id)
    )
    serials = uow.repo(WalletSerial).all_where(pass_id=pass_id)
    registrations = [
        r for s in serials for r in uow.repo(WalletRegistration).all_where(serial=s.id)
    ]
    logs, _ = uow.repo(WalletLog).list(
        filters={"pass_id": pass_id}, limit=RECENT, newest_first=True
    )
    events, _ = uow.events.list(EventFilter(member_id=member.id), limit=RECENT, offset=0)
    return PassDetail(
        row=_row(apple_pass, member, devices),
        devices=devices,
        registrations=registrations,
        serials=serials,
        logs=logs,
        events=events,
    )


def _change(
    uow: UnitOfWork, actor: Actor, pass_id: str, action: str, topic: str | None, now: datetime
) -> m.ApplePass:
    actor.require_write()
    repo = uow.repo(m.ApplePass)
    apple_pass = repo.get(pass_id)
    before = apple_pass.status
    if before == m.PassStatus.DELETED:
        raise Conflict("this Apple Pass was deleted; nothing can change it any more")
    devices = uow.repo(m.PassDevice).all_where(pass_id=pass_id)
    active = [d for d in devices if d.status == m.DeviceStatus.ACTIVE]
    if action == "suspend":
        if before == m.PassStatus.SUSPENDED:
            raise Conflict("this Apple Pass is already suspended")
        apple_pass.status, apple_pass.suspended_at = m.PassStatus.SUSPENDED, now
    elif action == "resume":
        if before != m.PassStatus.SUSPENDED:
            raise Conflict("only a suspended Apple Pass can be resumed")
        apple_pass.status, apple_pass.suspended_at = m.PassStatus.ACTIVE, None
    else:
        apple_pass.status, apple_pass.deleted_at = m.PassStatus.DELETED, now
        for d in active:
            d.status = m.DeviceStatus.REVOKED
            uow.repo(m.PassDevice).update(d)
    apple_pass.updated_at = now
    repo.update(apple_pass)
    audit_pass(
        uow,
        actor,
        apple_pass,
        _EVENT_TYPES[action],
        now,
        before={"status": before},
        after={"status": apple_pass.status},
    )
    # Only copies whose view changes get a new version: a replaced device stays voided.
    new_versions(uow, serials_of(uow, [d.id for d in active]), topic=topic, now=now)
    return apple_pass


def suspend_pass(
    uow: UnitOfWork, actor: Actor, pass_id: str, *, now: datetime, topic: str | None = None
) -> m.ApplePass:
    return _change(uow, actor, pass_id, "suspend", topic, now)


def resume_pass(
    uow: UnitOfWork, actor: Actor, pass_id: str, *, now: datetime, topic: str | None = None
) -> m.ApplePass:
    return _change(uow, actor, pass_id, "resume", topic, now)


def delete_pass(
    uow: UnitOfWork, actor: Actor, pass_id: str, *, now: datetime, topic: str | None = None
) -> m.ApplePass:
    return _change(uow, actor, pass_id, "delete", topic, now)


PassAction = Literal["suspend", "resume", "delete"]
# The declared operation (services.authz.POLICY) each command is checked against.
OPERATIONS: dict[str, str] = {
    "suspend": "suspend_apple_pass",
    "resume": "resume_apple_pass",
    "delete": "delete_apple_pass",
}


@dataclass(frozen=True)
class PassCommands:
    """Suspend, resume and delete as whole commands, for every caller alike (API,
    dashboard, CLI, worker): each checks the caller's role, opens its own transaction,
    reads the clock and names the APNs topic of this server's passes.
    """

    uow_factory: UnitOfWorkFactory
    clock: Clock
    topic: str | None

    def change(self, actor: Actor, pass_id: str, action: PassAction) -> PassRow:
        """Apply ``action`` to the pass; returns its row as the change left it."""
        operation = OPERATIONS.get(action)
        if operation is None:
            raise ValidationError(f"unknown pass action {action!r}", field="action")
        authorize(actor, operation)
        org_id = actor.require_org()
        now = self.clock.now()
        with self.uow_factory(org_id) as uow:
            _change(uow, actor, pass_id, action, self.topic, now)
        with self.uow_factory(org_id, write=False) as uow:
            return pass_detail(uow, pass_id).row

    def browse(
        self,
        actor: Actor,
        *,
        status: str | None,
        device: str | None,
        search: str | None,
        limit: int,
        offset: int = 0,
    ) -> Page[PassRow]:
        """The dashboard's pass list: newest first, filtered and paged in SQL."""
        authorize(actor, "list_apple_passes")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return list_passes(
                uow, status=status, device=device, search=search, limit=limit, offset=offset
            )

    def detail(self, actor: Actor, pass_id: str) -> PassDetail:
        """One pass with its member, devices, registrations, PassKit logs and events."""
        authorize(actor, "get_apple_pass")
        with self.uow_factory(actor.require_org(), write=False) as uow:
            return pass_detail(uow, pass_id)
