"""Aliro reader groups: the keys devices trust, and the certificates readers present.

Each organization has one *current* reader group: a 16-byte group identifier and an issuer
key pair (P-256, private half sealed at rest). A device learns every trusted group's
identifier and public key when its pass is added or updated (pass.json ``userInfo``).
Each reader keeps its own Aliro key on the reader; the server certifies that key with the
current group's issuer key (a compressed reader certificate, see
:mod:`passgate.proto.aliro.certificate`), at pairing and whenever the reader reports a new
key (after a tamper) or the current group changes.

Rotation without breaking taps, in three steps (each one audited):

1. ``rotate``: a *next* group is created; devices get it with their next pass update,
   readers keep presenting the current group.
2. ``promote``: next becomes current, current becomes *previous*; readers are re-certified
   under the new group on their next connection. Devices still trust the previous group,
   so a reader that has not moved yet keeps working.
3. ``retire``: the previous group is no longer given to devices.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain import model as m
from passgate.domain.errors import Conflict, PermissionDenied
from passgate.domain.passes import normalize_public_key
from passgate.proto import snapshot as snap
from passgate.proto.aliro import certificate as certs
from passgate.proto.aliro import crypto as aliro
from passgate.services.actors import Actor
from passgate.services.credentials.pass_effects import new_versions, serials_of
from passgate.services.events import audit
from passgate.services.ports import (
    AliroReaderGroup,
    Clock,
    ReaderLink,
    SecretBox,
    UnitOfWork,
    UnitOfWorkFactory,
)

CERTIFICATE_LIFETIME = timedelta(days=730)
TRUSTED_STATES = ("next", "current", "previous")


@dataclass(frozen=True)
class ReaderCredentials:
    """What a reader needs to speak Aliro as a member of its group."""

    group_identifier: str
    group_public_key: str
    certificate: str  # hex, compressed reader certificate


def _groups(uow: UnitOfWork) -> list[AliroReaderGroup]:
    return sorted(uow.repo(AliroReaderGroup).all_where(), key=lambda g: g.created_at)


def _new_group(
    uow: UnitOfWork, org_id: str, box: SecretBox, now: datetime, state: str
) -> AliroReaderGroup:
    key = ec.generate_private_key(ec.SECP256R1())
    group = AliroReaderGroup(
        id=m.new_id("rgp"),
        org_id=org_id,
        group_identifier=secrets.token_hex(16),
        issuer_key_sealed=box.seal(snap.private_pem(key)),
        public_key=aliro.public_bytes(key).hex(),
        state=state,
        created_at=now,
    )
    uow.repo(AliroReaderGroup).add(group)
    return group


def current_group(uow: UnitOfWork, org_id: str, box: SecretBox, now: datetime) -> AliroReaderGroup:
    """The group readers are certified under, created on first use.

    Created under the organization's lock and looked for again once it is held, so
    readers pairing at the same moment all get the one group (no index would refuse a
    second "current" group: the lock is what keeps it single)."""
    found = _current(uow)
    if found is None:
        uow.organizations.lock(org_id)
        found = _current(uow)  # made by the transaction that held the lock before us
    return found or _new_group(uow, org_id, box, now, "current")


def _current(uow: UnitOfWork) -> AliroReaderGroup | None:
    return next((g for g in _groups(uow) if g.state == "current"), None)


def trusted_groups(uow: UnitOfWork) -> tuple[tuple[str, str], ...]:
    """Every group a device must trust now (next, current and previous): (id, key) hex."""
    return tuple(
        (g.group_identifier, g.public_key) for g in _groups(uow) if g.state in TRUSTED_STATES
    )


def _refresh_passes(uow: UnitOfWork, now: datetime) -> None:
    """The trusted set changed: every live Wallet copy gets a new version (and a push)."""
    live = [d.id for d in uow.repo(m.PassDevice).all_where() if d.status == m.DeviceStatus.ACTIVE]
    new_versions(uow, serials_of(uow, live), now=now)


def certify(
    uow: UnitOfWork, link: ReaderLink, box: SecretBox, now: datetime
) -> ReaderCredentials | None:
    """Issue (or re-issue) the reader's certificate when its key or the group changed.

    Returns the credentials to send the reader, or None when what it holds is current.
    """
    if link.aliro_public_key is None:
        return None
    group = current_group(uow, link.org_id, box, now)
    if link.certificate is not None and link.certificate_group == group.group_identifier:
        return None
    issuer = snap.load_private_pem(box.open(group.issuer_key_sealed))
    # The issuer name stays the default: devices find the issuer key by the group in AUTH0's
    # reader identifier, and the shorter certificate fits one short APDU (no chaining: one
    # radio round trip less per STANDARD tap).
    cert = certs.issue(
        issuer,
        serial=secrets.randbits(63) | 1,
        subject=link.id[:32],
        public_key=bytes.fromhex(link.aliro_public_key),
        not_before=now - timedelta(minutes=5),
        not_after=now + CERTIFICATE_LIFETIME,
    )
    link.certificate = cert.encode().hex()
    link.certificate_group = group.group_identifier
    uow.repo(ReaderLink).update(link)
    return ReaderCredentials(group.group_identifier, group.public_key, link.certificate)


def recertify(
    uow: UnitOfWork, reader_id: str, box: SecretBox, now: datetime
) -> ReaderCredentials | None:
    """On connect: a certificate from a group that is no longer current is replaced."""
    link = uow.repo(ReaderLink).find(reader_id)
    return None if link is None else certify(uow, link, box, now)


def parse_aliro_key(value: object) -> str:
    """A reader's Aliro public key as sent (hex of the 65-byte point); ValidationError."""
    return normalize_public_key(value, "aliro_public_key")


def set_reader_key(
    uow: UnitOfWork, reader_id: str, public_key: str, box: SecretBox, now: datetime
) -> ReaderCredentials | None:
    """The reader made a new Aliro key (pairing, tamper recovery): certify it."""
    link = uow.repo(ReaderLink).get(reader_id)
    key = parse_aliro_key(public_key)
    if link.aliro_public_key != key:
        link.aliro_public_key = key
        link.certificate = None
        link.certificate_group = None
        uow.repo(ReaderLink).update(link)
    return certify(uow, link, box, now)


# --- rotation ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupView:
    id: str
    group_identifier: str
    public_key: str
    state: str
    created_at: datetime


def _view(group: AliroReaderGroup) -> GroupView:
    return GroupView(
        group.id, group.group_identifier, group.public_key, group.state, group.created_at
    )


def _authorize(actor: Actor, org_id: str) -> None:
    """The operator, or an admin or owner of this organization."""
    if actor.is_operator:
        return
    if actor.org_id != org_id:
        raise PermissionDenied("this organization's reader groups are not yours to change")
    actor.require_write()


def _audit(
    uow: UnitOfWork, actor: Actor, group: AliroReaderGroup, type: str, now: datetime
) -> None:
    audit(
        uow,
        actor,
        org_id=group.org_id,
        type=type,
        object_type="reader_group",
        object_id=group.id,
        now=now,
        after={"group_identifier": group.group_identifier, "state": group.state},
    )


def list_groups(uow_factory: UnitOfWorkFactory, actor: Actor, org_id: str) -> list[GroupView]:
    if not actor.is_operator and actor.org_id != org_id:
        raise PermissionDenied("this organization's reader groups are not yours to see")
    with uow_factory(org_id, write=False) as uow:
        return [_view(g) for g in _groups(uow)]


def rotate(
    uow_factory: UnitOfWorkFactory, actor: Actor, org_id: str, box: SecretBox, now: datetime
) -> GroupView:
    """Step 1: a next group that devices learn (pass updates) before readers move to it."""
    _authorize(actor, org_id)
    with uow_factory(org_id) as uow:
        uow.organizations.get(org_id)
        current_group(uow, org_id, box, now)
        if any(g.state == "next" for g in _groups(uow)):
            raise Conflict("a rotation is already under way: promote the next group first")
        if any(g.state == "previous" for g in _groups(uow)):
            raise Conflict("retire the previous reader group first")
        group = _new_group(uow, org_id, box, now, "next")
        _audit(uow, actor, group, "reader_group.created", now)
        _refresh_passes(uow, now)
        return _view(group)


def promote(uow_factory: UnitOfWorkFactory, actor: Actor, org_id: str, now: datetime) -> GroupView:
    """Step 2: readers move to the next group (re-certified on their next connection);
    devices keep trusting the old one as *previous*."""
    _authorize(actor, org_id)
    with uow_factory(org_id) as uow:
        groups = _groups(uow)
        nxt = next((g for g in groups if g.state == "next"), None)
        if nxt is None:
            raise Conflict("no next reader group: rotate first")
        repo = uow.repo(AliroReaderGroup)
        for group in groups:
            if group.state == "current":
                group.state = "previous"
                repo.update(group)
                _audit(uow, actor, group, "reader_group.demoted", now)
        nxt.state = "current"
        repo.update(nxt)
        _audit(uow, actor, nxt, "reader_group.promoted", now)
        return _view(nxt)


def retire(uow_factory: UnitOfWorkFactory, actor: Actor, org_id: str, now: datetime) -> GroupView:
    """Step 3: devices stop trusting the previous group (pass updates)."""
    _authorize(actor, org_id)
    with uow_factory(org_id) as uow:
        previous = next((g for g in _groups(uow) if g.state == "previous"), None)
        if previous is None:
            raise Conflict("no previous reader group to retire")
        previous.state = "retired"
        uow.repo(AliroReaderGroup).update(previous)
        _audit(uow, actor, previous, "reader_group.retired", now)
        _refresh_passes(uow, now)
        return _view(previous)


@dataclass(frozen=True)
class ReaderGroupCommands:
    """The reader-group rotation as whole commands (the operator's CLI, or an admin of
    the organization): each checks the caller, owns its transaction, reads the clock."""

    uow_factory: UnitOfWorkFactory
    clock: Clock
    box: SecretBox

    def list(self, actor: Actor, org_id: str) -> list[GroupView]:
        return list_groups(self.uow_factory, actor, org_id)

    def rotate(self, actor: Actor, org_id: str) -> GroupView:
        return rotate(self.uow_factory, actor, org_id, self.box, self.clock.now())

    def promote(self, actor: Actor, org_id: str) -> GroupView:
        return promote(self.uow_factory, actor, org_id, self.clock.now())

    def retire(self, actor: Actor, org_id: str) -> GroupView:
        return retire(self.uow_factory, actor, org_id, self.clock.now())
