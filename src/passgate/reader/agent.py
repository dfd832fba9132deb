"""The agent's core: decide each tap from the signed cache, record it, drive the relay.

Order of a tap, and why:
1. run the reader side of the Aliro transaction to its result (who is this key?);
2. judge it with ``domain.reader_cache.decide_tap`` (R12 to R16);
3. commit the event to the agent's SQLite (fsync) -- before anything observable happens,
   so a crash afterwards can never lose a decision someone saw;
4. pulse the relay (fail secure), then tell the device the outcome (CONTROL FLOW).

MotionSense (R27) is the same transaction over Bluetooth LE (interface byte C3), started
by the motion sensor while the app's link is up: ``ble_transaction`` runs it through the
same loop, decides with method BLE (an Apple Pass key there is ``unsupported_method``,
R12) and also tells the app the decision over the link (``proto.motionsense``).

Aliro identity: the reader's own P-256 key (made here, never leaves the agent) signs
AUTH1; the server certifies it under the organization's current reader group, and the
agent presents that certificate with LOAD CERTIFICATE. Devices trust the group key they
got with their pass, never a key the reader names. Until a certificate for the current
key has arrived the agent cannot run a transaction (a tap is denied and logged).

Tamper (R14): with tamper protection on, a tamper latches the agent halted, erases the
Aliro reader key and every persistent key, and queues a tamper event. The latch clears
only when a signed cache says the server has stored that tamper (tamper_seq) and an
admin cleared it (tampered false); a fresh Aliro key is then generated and sent to the
server for a new certificate. The link key that authenticates the agent to the server is
kept so the tamper event still reaches the server; if it may have been read out, the
admin deletes or re-pairs the reader.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

from passgate.domain.access import Decision, Reason, UnlockMethod
from passgate.domain.errors import PassgateError, ValidationError
from passgate.domain.passes import key_id_of
from passgate.domain.reader_cache import (
    CacheView,
    decide_tap,
    parse_cache,
    parse_credential,
    parse_header,
    parse_member,
)
from passgate.proto import snapshot as snap
from passgate.proto.aliro import (
    AliroError,
    KnownEndpoint,
    ReaderIdentity,
    ReaderTransaction,
    crypto,
    verify_chain,
)
from passgate.proto.aliro import constants as c
from passgate.proto.aliro.runner import Transceiver, close, run_until_result
from passgate.proto.unlock import GRANTED, UnlockCommand
from passgate.reader import relay as relays
from passgate.reader.store import AgentStore

log = logging.getLogger(__name__)


class Card(Protocol):
    """A device in the field: one command APDU in, one response APDU out."""

    def transmit(self, command: bytes) -> bytes: ...


class _Link:
    """A card as the Aliro loop's transceiver."""

    def __init__(self, card: Card) -> None:
        self._card = card

    def transceive(self, command: bytes) -> bytes:
        return self._card.transmit(command)


class CardGone(Exception):
    """The device left the field (or the link to it broke) mid-transaction."""


class BleLink(Protocol):
    """A MotionSense link to the app (``reader.transport.ble.FramedLink``)."""

    def transceive(self, command: bytes) -> bytes: ...

    def notify(self, granted: bool, reason: str, flow: str | None) -> None: ...


@dataclass(frozen=True)
class TapResult:
    decision: Decision
    sequence: int
    flow: str | None
    relay_ok: bool


def _now() -> datetime:
    return datetime.now(UTC)


_ROWS = ("credentials", "members")


def _header_sections(body: dict[str, Any]) -> set[str]:
    names = {*body["set"], *body["unset"], *body["replace"], *body["drop"]}
    return names - set(_ROWS)


def _only(body: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {
        "set": {k: v for k, v in body["set"].items() if k in names},
        "unset": {k: v for k, v in body["unset"].items() if k in names},
        "replace": {k: v for k, v in body["replace"].items() if k in names},
        "drop": [k for k in body["drop"] if k in names],
    }


def _rows(
    current: Mapping[str, Any],
    body: dict[str, Any],
    name: str,
    parse: Callable[[str, Any], Any],
) -> Any:
    """The parsed rows of section ``name`` after ``body``: updated in place when only
    rows change, a new map when the section is replaced."""
    if name in body["replace"]:
        return {k: parse(k, v) for k, v in body["replace"][name].items()}
    if not isinstance(current, dict):
        current = dict(current)
    for key, raw in body["set"].get(name, {}).items():
        current[key] = parse(key, raw)
    for key in body["unset"].get(name, []):
        current.pop(key, None)
    return current


class ReaderAgent:
    def __init__(
        self,
        store: AgentStore,
        relay: relays.RelayDriver | None = None,
        *,
        clock: Callable[[], datetime] = _now,
        on_event: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.relay = relay or relays.SimulatedRelay()
        self.clock = clock
        self.on_event = on_event
        self._lock = threading.Lock()
        self.view: CacheView | None = None
        self.version: int = int(store.get("version") or 0)
        self.content: dict[str, Any] | None = store.load_cache()
        synced = store.get("synced_at")
        self.synced_at = datetime.fromisoformat(synced) if synced else None
        self.halted_seq: int = int(store.get("halted_seq") or 0)
        self._identity: ReaderIdentity | None = None
        # FAST candidates, most recently used last (tried first: the regulars of a door).
        self._persistent: dict[str, KnownEndpoint] = {
            kid: KnownEndpoint(pub, secret) for kid, pub, secret in store.persistent_keys()
        }
        if self.content is not None:
            try:
                self.view = parse_cache(self.content)
            except ValidationError:
                self.view, self.content, self.version = None, None, 0
        self._load_identity()

    # --- identity ------------------------------------------------------------------------

    @property
    def reader_id(self) -> str | None:
        value = self.store.get("reader_id")
        return value if isinstance(value, str) else None

    def _load_identity(self) -> None:
        group = self.store.get("group_identifier")
        group_key = self.store.get("group_public_key")
        certificate = self.store.get("aliro_certificate")
        reader_id = self.reader_id
        pem = self.store.get("aliro_key")
        if not (group and group_key and certificate and reader_id and pem) or self.halted:
            self._identity = None
            return
        self._identity = ReaderIdentity.with_key(
            bytes.fromhex(group),
            hashlib.sha256(reader_id.encode()).digest()[:16],
            snap.load_private_pem(pem.encode()),
            group_public_key=bytes.fromhex(group_key),
            certificate=bytes.fromhex(certificate),
        )

    def new_aliro_key(self) -> None:
        """A fresh Aliro key; it needs a certificate (see :meth:`aliro_public_key`)."""
        key = ec.generate_private_key(ec.SECP256R1())
        self.store.put({"aliro_key": snap.private_pem(key).decode(), "aliro_certificate": None})
        self._load_identity()

    @property
    def aliro_public_key(self) -> str | None:
        """Hex of the Aliro public key, when it still waits for its certificate."""
        pem = self.store.get("aliro_key")
        if not pem or self.store.get("aliro_certificate"):
            return None
        return crypto.public_bytes(snap.load_private_pem(pem.encode())).hex()

    def install_certificate(
        self, *, group_identifier: str, group_public_key: str, certificate: str
    ) -> None:
        """Credentials from the server; checked before use (ValidationError)."""
        pem = self.store.get("aliro_key")
        if not pem:
            raise ValidationError("no Aliro key to certify", field="certificate")
        try:
            group = bytes.fromhex(group_identifier)
            issuer = crypto.load_public_key(bytes.fromhex(group_public_key))
            mine = crypto.public_bytes(snap.load_private_pem(pem.encode()))
            vouched = verify_chain(bytes.fromhex(certificate), issuer, self.clock())
        except (ValueError, PassgateError) as exc:
            raise ValidationError(
                "the reader certificate is unusable", field="certificate"
            ) from exc
        if len(group) != 16 or vouched != mine:
            raise ValidationError(
                "the certificate is not for this reader's key", field="certificate"
            )
        self.store.put(
            {
                "group_identifier": group_identifier,
                "group_public_key": group_public_key,
                "aliro_certificate": certificate,
            }
        )
        self._load_identity()

    @property
    def halted(self) -> bool:
        return self.halted_seq > 0

    # --- cache ---------------------------------------------------------------------------

    def apply(self, version: int, content: dict[str, Any]) -> None:
        """Install a verified full content; ValidationError when it cannot be used (re-sync)."""
        view = parse_cache(content)
        now = self.clock()
        self.store.save_cache(version, content, now.isoformat())
        with self._lock:
            self.view, self.content, self.version, self.synced_at = view, content, version, now
        self._maybe_resume(view)

    @staticmethod
    def check(content: Mapping[str, Any], body: dict[str, Any] | None) -> None:
        """Can the cache use this? ``body`` None: a full content, else a delta on it.

        Given to ``proto.snapshot.CacheState`` as its validator, so an unusable frame is
        refused before the held content changes. A delta's rows are parsed one by one;
        the small sections are checked as they will be after it.
        """
        if body is None:
            parse_cache(content)
            return
        for name, parse in (("credentials", parse_credential), ("members", parse_member)):
            rows = body["set"].get(name, {})
            replaced = body["replace"].get(name)
            for source in (rows, replaced if isinstance(replaced, dict) else {}):
                for key, raw in source.items():
                    parse(key, raw)
            if name in body["replace"] and not isinstance(replaced, dict):
                raise ValidationError(f"content.{name} must be an object", field=name)
            if name in body["drop"]:
                raise ValidationError(f"content.{name} is required", field=name)
        touched = _header_sections(body)
        if touched:
            small = {k: v for k, v in content.items() if k not in ("credentials", "members")}
            after = snap.apply(small, _only(body, touched))
            parse_header(after, {}, {})

    def apply_changes(self, version: int, content: dict[str, Any], body: dict[str, Any]) -> None:
        """Take a verified delta: ``content`` already holds it; update the rows it names."""
        now = self.clock()
        self.store.apply_changes(version, body, now.isoformat())
        with self._lock:
            view = self.view
            if view is None or self.content is not content:
                view = parse_cache(content)  # not built from this content: start over
            else:
                creds = _rows(view.credentials, body, "credentials", parse_credential)
                members = _rows(view.members, body, "members", parse_member)
                if _header_sections(body):
                    view = parse_header(content, creds, members)
                elif creds is not view.credentials or members is not view.members:
                    view = dataclasses.replace(view, credentials=creds, members=members)
            self.view, self.content, self.version, self.synced_at = view, content, version, now
        self._maybe_resume(view)

    def _maybe_resume(self, view: CacheView) -> None:
        if self.halted and not view.server_tampered and view.tamper_seq >= self.halted_seq:
            # The server stored our tamper and an admin cleared it: back into service.
            self.halted_seq = 0
            self.store.put({"halted_seq": None})
            self.new_aliro_key()

    def confirm_synced(self, version: int) -> None:
        if version != self.version:
            return
        now = self.clock()
        self.synced_at = now
        self.store.put({"synced_at": now.isoformat()})

    # --- taps ----------------------------------------------------------------------------

    def _lookup(self, public_key: bytes) -> KnownEndpoint | None:
        view = self.view
        if view is None:
            return None
        cred = view.credentials.get(key_id_of(public_key.hex()))
        if cred is None:
            return None
        known = self._persistent.get(cred.key_id)
        return known or KnownEndpoint(cred.public_key)

    def _fast_candidates(self) -> Iterator[KnownEndpoint]:
        """Persistent keys, most recently used first, walked in place (no copy per tap).

        Another tap (NFC and BLE run on their own threads) or a tamper may reorder or
        clear the keys meanwhile; the walk then goes on over a copy taken at that moment.
        """
        try:
            yield from reversed(self._persistent.values())
        except RuntimeError:  # the dict changed size during the walk: walk a copy
            yield from list(reversed(self._persistent.values()))

    def _record(
        self,
        outcome_reason: Decision,
        *,
        kind: str = "access",
        method: UnlockMethod,
        key_id: str | None,
        flow: str | None = None,
        transaction_id: str | None = None,
        persistent: tuple[str, bytes, bytes] | None = None,
    ) -> int:
        view = self.view
        cred = view.credentials.get(key_id) if view is not None and key_id else None
        body: dict[str, Any] = {
            "kind": kind,
            "occurred_at": self.clock().isoformat(),
            "granted": outcome_reason.granted,
            "reason": outcome_reason.reason.value,
            "member_id": cred.view.member_id if cred else None,
            "credential_id": cred.credential_id if cred else None,  # pass or app credential
            "method": method.value,
            "key_id": key_id,
            "flow": flow,
            "transaction_id": transaction_id,
        }
        seq = self.store.add_event({k: v for k, v in body.items() if v is not None}, persistent)
        if self.on_event is not None:
            self.on_event()
        return seq

    def _decide(self, key_id: str | None, method: UnlockMethod) -> Decision:
        with self._lock:  # a delta being taken changes rows of the view in place
            return decide_tap(
                self.view,
                key_id=key_id,
                method=method,
                now=self.clock(),
                synced_at=self.synced_at,
                halted=self.halted,
            ).decision

    def tap(self, card: Card, *, prefer_fast: bool = True) -> TapResult | None:
        """One NFC tap; None when the device left before the transaction ended."""
        return self._transact(_Link(card), UnlockMethod.NFC, prefer_fast=prefer_fast)

    def ble_transaction(self, link: BleLink, *, prefer_fast: bool = True) -> TapResult | None:
        """One MotionSense attempt over Bluetooth LE (R27), started by the motion sensor.

        The app's credential is authenticated by the Aliro exchange with interface C3;
        None when the app left before the transaction ended (nothing was decided).
        """
        try:
            result = self._transact(link, UnlockMethod.BLE, prefer_fast=prefer_fast)
        except CardGone as exc:
            log.info("MotionSense: the app left before a decision: %s", exc)
            return None
        if result is not None:
            try:
                link.notify(result.decision.granted, result.decision.reason.value, result.flow)
            except (AliroError, CardGone) as exc:
                # Advisory only: the event is recorded and EXCHANGE carried the outcome.
                log.info("MotionSense decision not delivered to the app: %s", exc)
        return result

    def _transact(
        self, link: Transceiver, method: UnlockMethod, *, prefer_fast: bool
    ) -> TapResult | None:
        identity = self._identity
        if identity is None:
            # Halted (keys erased) or never paired: no transaction is possible.
            decision = self._decide(None, method)
            if self.halted:
                decision = Decision(False, Reason.READER_TAMPERED)
            seq = self._record(decision, method=method, key_id=None)
            return TapResult(decision, seq, None, False)
        tx = ReaderTransaction(
            identity,
            lookup=self._lookup,
            fast_candidates=self._fast_candidates,
            prefer_fast=prefer_fast,
            interface=c.INTERFACE_BLE if method == UnlockMethod.BLE else c.INTERFACE_NFC,
        )
        try:
            outcome = run_until_result(tx, link)  # CardGone: no decision was made or shown
        except AliroError:
            return None
        transaction_id = tx.transaction_id.hex() or None
        public_key = outcome.endpoint_public_key
        # key_id_of(public_key.hex()) without the hex round trip: SHA-256 of the point.
        key_id = hashlib.sha256(public_key).hexdigest() if public_key else None
        decision = self._decide(key_id, method)
        if decision.granted and not outcome.authenticated:
            decision = Decision(False, Reason.UNKNOWN_CREDENTIAL)  # never reached: fail closed
        learned = None
        if outcome.new_persistent_key is not None and key_id is not None and decision.granted:
            learned = (key_id, outcome.endpoint_public_key or b"", outcome.new_persistent_key)
        seq = self._record(
            decision,
            method=method,
            key_id=key_id,
            flow=outcome.flow,
            transaction_id=transaction_id,
            persistent=learned,
        )
        if learned is not None:
            self._persistent.pop(learned[0], None)
            self._persistent[learned[0]] = KnownEndpoint(learned[1], learned[2])
        elif (
            outcome.flow == "fast"
            and key_id is not None
            and key_id in self._persistent
            and next(reversed(self._persistent)) != key_id  # not already the most recent
        ):
            self._persistent[key_id] = self._persistent.pop(key_id)  # most recently used
        relay_ok = relays.unlock(self.relay) if decision.granted else False
        try:
            close(tx, link, decision.granted and relay_ok)
        except (AliroError, CardGone) as exc:
            # The decision is recorded and acted on; the device left before the closing
            # command (or broke the link's framing), so it learns nothing more.
            log.info("%s transaction not closed: %s", method.value, exc)
        return TapResult(decision, seq, outcome.flow, relay_ok)

    def remote_unlock(self, command: UnlockCommand) -> tuple[bool, str]:
        """An administrator's verified unlock command (``proto.unlock``): judged from this
        reader's own state, recorded durably as a ``remote_unlock`` event before the relay
        acts, like a tap. Returns (unlocked, reason), a ``proto.unlock`` result reason."""
        with self._lock:
            view, synced_at = self.view, self.synced_at
        now = self.clock()
        if self.halted or (view is not None and view.server_tampered):
            reason = Reason.READER_TAMPERED.value
        elif view is None or synced_at is None or now - synced_at > view.door.staleness_limit:
            reason = Reason.CACHE_STALE.value
        elif view.door.id != command.door_id:
            reason = "wrong_door"
        elif view.door.lockdown:
            reason = Reason.DOOR_LOCKDOWN.value
        else:
            reason = GRANTED
        granted = reason == GRANTED
        event = {
            "kind": "remote_unlock",
            "occurred_at": now.isoformat(),
            "granted": granted,
            "reason": reason,
            "command_id": command.command_id,
        }
        self.store.add_event(event)
        if self.on_event is not None:
            self.on_event()
        if not granted:
            return False, reason
        if not relays.unlock(self.relay):
            return False, "relay_fault"
        return True, GRANTED

    def tamper(self) -> int:
        """The tamper input fired (R14)."""
        view = self.view
        protected = view.tamper_protection if view is not None else True
        seq = self._record(
            Decision(False, Reason.READER_TAMPERED),
            kind="tamper",
            method=UnlockMethod.NFC,
            key_id=None,
        )
        if protected:
            self.halted_seq = seq
            self.store.put({"halted_seq": seq})
            self._identity = None
            self._persistent.clear()
            self.store.erase_credential_keys()
        return seq
