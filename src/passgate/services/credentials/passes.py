"""A member adds their own Apple Pass (R4-R10): checks, device binding, signed passes.

The checks run in the order the issue fixes, each failing with its own code:
organization eligible (R1), fresh MFA (R4), device versions (R5), pass not
suspended (R7). Then the binding plan from ``domain.passes`` is carried out in the
same transaction as its audit events, pushes and reader updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from passgate.domain import model as m
from passgate.domain.eligibility import ELIGIBILITY_MESSAGES
from passgate.domain.errors import Conflict, PermissionDenied, PreconditionFailed, WriteConflict
from passgate.domain.pass_records import WalletSerial
from passgate.domain.passes import (
    IPHONE,
    BoundDevice,
    DeviceClaim,
    key_id_of,
    plan_binding,
)
from passgate.domain.versions import check_device_prerequisites, parse_version
from passgate.services.actors import Actor, ActorKind
from passgate.services.authz import authorize
from passgate.services.credentials.aliro_groups import current_group
from passgate.services.credentials.pass_effects import (
    audit_pass,
    new_versions,
    serials_of,
)
from passgate.services.credentials.pass_files import current_files
from passgate.services.credentials.wallet import WalletConfig, new_serial
from passgate.services.organizations import eligibility_of
from passgate.services.ports import Clock, KeyDirectory, SecretBox, UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class ProvisionResult:
    apple_pass: m.ApplePass
    created: bool
    devices: list[m.PassDevice]  # active bindings after the request
    added: list[m.PassDevice]
    replaced: list[m.PassDevice]
    watch_skipped: str | None
    pkpasses: dict[str, bytes] = field(default_factory=dict)  # kind -> signed .pkpass
    serials: dict[str, str] = field(default_factory=dict)  # kind -> Wallet serial


def _require_eligible(uow: UnitOfWork, org: m.Organization, now: datetime) -> None:
    eligibility = eligibility_of(uow, org, now)
    if not eligibility.eligible:
        found = " ".join(ELIGIBILITY_MESSAGES.get(r, r) for r in eligibility.reasons)
        raise PreconditionFailed(
            "Apple Passes need SSO enforced with MFA and an active Apple Pass subscription "
            f"(R1); {found}",
            code="org_not_eligible",
        )


def live_pass(uow: UnitOfWork, member_id: str) -> m.ApplePass | None:
    passes = uow.repo(m.ApplePass).all_where(member_id=member_id)
    return next((p for p in passes if p.status != m.PassStatus.DELETED), None)


def _check_keys(uow: UnitOfWork, keys: KeyDirectory, claims: tuple[DeviceClaim, ...]) -> None:
    for claim in claims:
        key_id = key_id_of(claim.public_key)
        if uow.repo(m.PassDevice).count(key_id=key_id) or keys.key_in_use(key_id):
            # A key once bound stays known to readers under its old status; reusing it
            # would make one key mean two things. The app makes a new key per add.
            raise Conflict(
                "this credential key was used before; the app must create a new key",
                field=f"{claim.kind}.public_key",
            )


def _provision_once(
    uow_factory: UnitOfWorkFactory,
    cfg: WalletConfig,
    keys: KeyDirectory,
    box: SecretBox,
    mfa_max_age: timedelta,
    actor: Actor,
    iphone: DeviceClaim,
    watch: DeviceClaim | None,
    now: datetime,
) -> ProvisionResult:
    if actor.kind is not ActorKind.MEMBER:
        raise PermissionDenied("only a member signed in through the mobile app adds a pass")
    org_id = actor.require_org()
    with uow_factory(org_id) as uow:
        org = uow.organizations.get(org_id)
        _require_eligible(uow, org, now)
        actor.require_fresh_mfa(now, mfa_max_age)
        check_device_prerequisites(iphone.os_version, iphone.app_version or "")
        if watch is not None:
            parse_version(watch.os_version, "watch.watchos_version")
        member = uow.repo(m.Member).get(actor.id)
        current = live_pass(uow, member.id)
        devices = uow.repo(m.PassDevice)
        active = (
            [d for d in devices.all_where(pass_id=current.id) if d.status == "active"]
            if current is not None
            else []
        )
        bound = [BoundDevice(d.id, d.kind, d.device_id, d.public_key) for d in active]
        plan = plan_binding(None if current is None else current.status, bound, iphone, watch)
        _check_keys(uow, keys, plan.add)
        created = current is None
        apple_pass = current or m.ApplePass(
            id=m.new_id("apl"),
            org_id=org_id,
            member_id=member.id,
            serial_number=new_serial(),
            status=m.PassStatus.ACTIVE,
            created_at=now,
            updated_at=now,
        )
        if created:
            uow.repo(m.ApplePass).add(apple_pass)
            audit_pass(uow, actor, apple_pass, "apple_pass.created", now)
        by_id = {d.id: d for d in active}
        replaced = [by_id[i] for i in plan.replace]
        for device in replaced:
            device.status = m.DeviceStatus.REPLACED
            device.replaced_at = now
            devices.update(device)
            audit_pass(
                uow,
                actor,
                apple_pass,
                "apple_pass.device_replaced",
                now,
                kind=device.kind,
                device_id=device.device_id,
                key_id=device.key_id,
            )
        # The replaced devices' Wallet copies get a voided version and a push (R10).
        new_versions(
            uow,
            serials_of(uow, plan.replace),
            topic=cfg.pass_type_identifier,
            now=now,
        )
        added = _bind(uow, actor, apple_pass, plan.add, by_id, plan.unchanged, now)
        if plan.watch_skipped is not None:
            audit_pass(
                uow, actor, apple_pass, "apple_pass.watch_skipped", now, reason=plan.watch_skipped
            )
        if plan.changes_anything:
            apple_pass.updated_at = now
            uow.repo(m.ApplePass).update(apple_pass)
        result_devices = [by_id[i] for i in plan.unchanged] + added
        current_group(uow, org_id, box, now)  # the credential trusts at least one group
        pkpasses, serials = _render_all(uow, cfg, apple_pass, result_devices)
    return ProvisionResult(
        apple_pass=apple_pass,
        created=created,
        devices=result_devices,
        added=added,
        replaced=replaced,
        watch_skipped=plan.watch_skipped,
        pkpasses=pkpasses,
        serials=serials,
    )


def _bind(
    uow: UnitOfWork,
    actor: Actor,
    apple_pass: m.ApplePass,
    claims: tuple[DeviceClaim, ...],
    by_id: dict[str, m.PassDevice],
    unchanged: tuple[str, ...],
    now: datetime,
) -> list[m.PassDevice]:
    added: list[m.PassDevice] = []
    phone = next((by_id[i] for i in unchanged if by_id[i].kind == IPHONE), None)
    for claim in sorted(claims, key=lambda c: c.kind != IPHONE):  # the iPhone first
        device = m.PassDevice(
            id=m.new_id("dev"),
            org_id=apple_pass.org_id,
            pass_id=apple_pass.id,
            kind=claim.kind,
            device_id=claim.device_id,
            model=claim.model,
            os_version=claim.os_version,
            app_version=claim.app_version,
            public_key=claim.public_key,
            key_id=key_id_of(claim.public_key),
            status=m.DeviceStatus.ACTIVE,
            added_at=now,
            paired_device_id=None if claim.kind == IPHONE or phone is None else phone.id,
        )
        uow.repo(m.PassDevice).add(device)
        serial = apple_pass.serial_number if claim.kind == IPHONE else new_serial()
        if claim.kind == IPHONE and uow.repo(WalletSerial).find(serial) is not None:
            # The pass's serial names its current iPhone copy; a new iPhone gets a new one.
            serial = new_serial()
            apple_pass.serial_number = serial
        uow.repo(WalletSerial).add(
            WalletSerial(
                id=serial,
                org_id=apple_pass.org_id,
                pass_id=apple_pass.id,
                device_row_id=device.id,
                kind=claim.kind,
                created_at=now,
                updated_at=now.replace(microsecond=0),
            )
        )
        uow.changed_serials.add(serial)
        if claim.kind == IPHONE:
            phone = device
        audit_pass(
            uow,
            actor,
            apple_pass,
            "apple_pass.device_added",
            now,
            kind=device.kind,
            device_id=device.device_id,
            model=device.model,
            os_version=device.os_version,
            key_id=device.key_id,
            serial=serial,
        )
        added.append(device)
    return added


def _render_all(
    uow: UnitOfWork,
    cfg: WalletConfig,
    apple_pass: m.ApplePass,
    devices: list[m.PassDevice],
) -> tuple[dict[str, bytes], dict[str, str]]:
    """kind -> the signed .pkpass of each bound device, and kind -> its serial."""
    rows = [s for d in devices for s in uow.repo(WalletSerial).all_where(device_row_id=d.id)]
    files = current_files(uow, cfg, rows)
    kind_of = {d.id: d.kind for d in devices}
    pkpasses = {kind_of[s.device_row_id]: files[s.id] for s in rows}
    serials = {kind_of[s.device_row_id]: s.id for s in rows}
    return pkpasses, serials


@dataclass(frozen=True)
class PassProvisioning:
    """Adding a member's own Apple Pass as a whole command (the app's API): checks the
    caller's role, reads the clock and owns the transaction."""

    uow_factory: UnitOfWorkFactory
    cfg: WalletConfig
    keys: KeyDirectory
    box: SecretBox
    clock: Clock
    mfa_max_age: timedelta

    def provision(
        self, actor: Actor, *, iphone: DeviceClaim, watch: DeviceClaim | None
    ) -> ProvisionResult:
        """Add the member's pass (or its devices to the live one), in one transaction.

        A concurrent add by the same member can win the race to create the pass (the
        one-live-pass index refuses the loser with a WriteConflict); the command then
        runs once more, which applies this request to the pass that won.
        """
        authorize(actor, "provision_apple_pass")
        now = self.clock.now()
        parts = (self.uow_factory, self.cfg, self.keys, self.box, self.mfa_max_age)
        try:
            return _provision_once(*parts, actor, iphone, watch, now)
        except WriteConflict:
            return _provision_once(*parts, actor, iphone, watch, now)
