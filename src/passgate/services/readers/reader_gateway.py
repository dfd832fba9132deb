"""Reader pairing and authentication (the control side of the reader gateway).

Pairing: an admin asks for a one-time code for a reader (shown once, stored as its
SHA-256, valid for a few minutes); the agent sends the code with a public key it just
generated (and the public half of its Aliro key) and learns its reader id, the key that
signs its cache snapshots, and its Aliro reader group with the certificate for its key.
Pairing again (new code) replaces the keys, which is how a reader comes back after its
keys were erased or stolen.

Connection: the server sends a fresh nonce, the agent signs it with its key. A reader
that is not paired, was deleted, or whose signature fails is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain import model as m
from passgate.domain.errors import Unauthenticated, ValidationError
from passgate.proto import snapshot as snap
from passgate.services.actors import Actor, ActorKind
from passgate.services.credentials.aliro_groups import (
    ReaderCredentials,
    parse_aliro_key,
    set_reader_key,
)
from passgate.services.events import audit
from passgate.services.ports import (
    ReaderDirectory,
    ReaderLink,
    ReaderOrgKey,
    SecretBox,
    UnitOfWork,
    UnitOfWorkFactory,
)

PAIRING_TTL = timedelta(minutes=10)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud from a screen
_CODE_LEN = 12  # 60 bits: unguessable online within a ten-minute, single-use window


def _code_hash(code: str) -> str:
    normalized = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(b"passgate-pairing\x00" + normalized.encode()).hexdigest()


@dataclass(frozen=True)
class PairingCode:
    reader_id: str
    code: str
    expires_at: datetime


def create_pairing_code(
    uow: UnitOfWork, actor: Actor, reader_id: str, now: datetime
) -> PairingCode:
    actor.require_write()
    org_id = actor.require_org()
    uow.repo(m.Reader).get(reader_id)
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LEN))
    code = "-".join(raw[i : i + 4] for i in range(0, _CODE_LEN, 4))
    links = uow.repo(ReaderLink)
    link = links.find(reader_id)
    expires = now + PAIRING_TTL
    if link is None:
        link = ReaderLink(id=reader_id, org_id=org_id, created_at=now)
        link.pairing_code_hash, link.pairing_expires_at = _code_hash(code), expires
        links.add(link)
    else:
        link.pairing_code_hash, link.pairing_expires_at = _code_hash(code), expires
        links.update(link)
    audit(
        uow,
        actor,
        org_id=org_id,
        type="reader.pairing_code_created",
        object_type="reader",
        object_id=reader_id,
        now=now,
        after={"expires_at": expires.isoformat()},
    )
    return PairingCode(reader_id, code, expires)


def org_key(uow: UnitOfWork, org_id: str, box: SecretBox, now: datetime) -> ReaderOrgKey:
    """The organization's snapshot-signing key, created on first use.

    Readers of a new site pair at the same moment: the creation runs under the
    organization's lock (``OrganizationRepository.lock``) and looks again once it holds
    it, so the first transaction creates the key and the others wait for it and use it
    (no unique-index refusal, no second key)."""
    repo = uow.repo(ReaderOrgKey)
    found = repo.all_where()
    if found:
        return found[0]
    uow.organizations.lock(org_id)
    found = repo.all_where()
    if found:
        return found[0]  # made by the transaction that held the lock before us
    private = ec.generate_private_key(ec.SECP256R1())
    key = ReaderOrgKey(
        id=m.new_id("rok"),
        org_id=org_id,
        signing_key_sealed=box.seal(snap.private_pem(private)),
        public_key=snap.public_pem(private),
        created_at=now,
    )
    repo.add(key)
    return key


def signing_key(key: ReaderOrgKey, box: SecretBox) -> ec.EllipticCurvePrivateKey:
    return snap.load_private_pem(box.open(key.signing_key_sealed))


@dataclass(frozen=True)
class Pairing:
    reader_id: str
    org_id: str
    door_id: str
    server_public_key: str
    aliro: ReaderCredentials


def pair(
    uow_factory: UnitOfWorkFactory,
    directory: ReaderDirectory,
    box: SecretBox,
    *,
    code: str,
    public_key: str,
    aliro_public_key: str,
    now: datetime,
) -> Pairing:
    snap.load_public_pem(public_key)  # ValidationError naming public_key
    aliro_key = parse_aliro_key(aliro_public_key)
    if not isinstance(code, str) or not 1 <= len(code) <= 40:
        raise ValidationError("code must be the pairing code shown by the API", field="code")
    wanted = _code_hash(code)
    org_id = directory.org_of_pairing_code(wanted)
    # One message for every failure: a caller learns nothing about which codes exist.
    refused = Unauthenticated("pairing code is invalid or expired")
    if org_id is None:
        raise refused
    with uow_factory(org_id) as uow:
        link = next(iter(uow.repo(ReaderLink).all_where(pairing_code_hash=wanted)), None)
        if link is None or link.pairing_code_hash is None:
            raise refused
        if not hmac.compare_digest(link.pairing_code_hash, wanted):
            raise refused
        if link.pairing_expires_at is None or link.pairing_expires_at <= now:
            raise refused
        reader = uow.repo(m.Reader).find(link.id)
        if reader is None:
            raise refused
        link.public_key = public_key
        link.pairing_code_hash = None  # single use
        link.pairing_expires_at = None
        link.paired_at = now
        uow.repo(ReaderLink).update(link)
        key = org_key(uow, org_id, box, now)
        aliro = set_reader_key(uow, reader.id, aliro_key, box, now)
        assert aliro is not None  # a new key always gets its certificate
        audit(
            uow,
            Actor(ActorKind.READER, reader.id, reader.name, org_id, role="reader"),
            org_id=org_id,
            type="reader.paired",
            object_type="reader",
            object_id=reader.id,
            now=now,
        )
        return Pairing(reader.id, org_id, reader.door_id, key.public_key, aliro)


def new_nonce() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def authenticate(
    uow_factory: UnitOfWorkFactory,
    directory: ReaderDirectory,
    *,
    reader_id: str,
    nonce: str,
    signature: str,
) -> tuple[str, str]:
    """The reader's organization and the link key that verified its signature over ``nonce``.

    The gateway keeps the key with the connection: once the reader is paired again (a
    new key) or deleted, the connection is closed.
    """
    refused = Unauthenticated("reader authentication failed")
    if not isinstance(reader_id, str) or not 1 <= len(reader_id) <= 40:
        raise refused
    org_id = directory.org_of_reader(reader_id)
    if org_id is None:
        raise refused
    with uow_factory(org_id, write=False) as uow:
        link = uow.repo(ReaderLink).find(reader_id)
        reader = uow.repo(m.Reader).find(reader_id)
    if link is None or link.public_key is None or reader is None:
        raise refused
    key = snap.load_public_pem(link.public_key)
    if not snap.verify(key, signature, snap.auth_message(nonce, reader_id)):
        raise refused
    return org_id, link.public_key
