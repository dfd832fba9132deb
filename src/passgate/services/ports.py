"""The interfaces services need from the outside world (implemented in adapters/).

A unit of work is one database transaction bound to one organization (or to
the operator, ``org_id is None``); every repository it hands out is scoped to
that organization, so a service cannot read another tenant's row by mistake.

Every area of services takes its persistence and infrastructure ports from here: the
unit of work and its repositories, the clock, the secret box, the outbox, APNs, the
reader entities, the look-ups that run before the organization is known (readers,
Wallet, credential keys), the identity-provider adapters of sign-in, the webhook poster,
rate limits and the retention store. The ``Container`` protocol (container.py) is the
one contract kept apart: it is what the entry points may ask of the composition root.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, TypeVar

from passgate.domain.model import (
    ApiKey,
    ApplePass,
    Event,
    Member,
    Organization,
    OutboxMessage,
    PassDevice,
    Session,
    Webhook,
)
from passgate.domain.pass_records import WalletLog
from passgate.proto.apns import PushOutcome
from passgate.services.paging import Page, Position

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime: ...


class Repository(Protocol[T]):
    def get(self, entity_id: str) -> T:
        """The entity, or NotFound (also when it belongs to another organization)."""

    def find(self, entity_id: str) -> T | None: ...

    def list(
        self,
        *,
        filters: Mapping[str, Any] | None = None,
        search: tuple[Sequence[str], str] | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = False,
    ) -> tuple[builtins.list[T], int]:
        """A page of entities and the total count matching ``filters`` (equality)."""

    def all_where(self, **filters: Any) -> builtins.list[T]: ...

    def add(self, entity: T) -> None: ...

    def update(self, entity: T) -> None: ...

    def advance(self, column: str, when: datetime, **filters: Any) -> int:
        """Move a timestamp column forward (never back) without rewriting the row.

        A filter given as a tuple matches any of its values."""

    def delete(self, entity_id: str) -> None: ...

    def delete_where(self, **filters: Any) -> int: ...

    def count(self, **filters: Any) -> int: ...


class OrganizationRepository(Protocol):
    def get(self, org_id: str) -> Organization: ...

    def find_by_slug(self, slug: str) -> Organization | None: ...

    def list(self, *, limit: int, offset: int) -> tuple[builtins.list[Organization], int]: ...

    def add(self, org: Organization) -> None: ...

    def update(self, org: Organization) -> None: ...

    def lock(self, org_id: str) -> None:
        """Hold ``org_id``'s row until the commit: serializes the first-use creation of
        an organization's singletons (reader signing key, current Aliro group) across
        transactions. Rows referencing the organization can still be inserted meanwhile."""


class GroupDoorLinks(Protocol):
    def doors_of(self, group_id: str) -> list[str]: ...

    def replace(self, group_id: str, door_ids: Iterable[str]) -> None: ...

    def delete_for_door(self, door_id: str) -> None: ...


class EventQuery(Protocol):
    @property
    def category(self) -> str | None: ...
    @property
    def type(self) -> str | None: ...
    @property
    def door_id(self) -> str | None: ...
    @property
    def member_id(self) -> str | None: ...
    @property
    def reader_id(self) -> str | None: ...
    @property
    def granted(self) -> bool | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def since(self) -> datetime | None: ...
    @property
    def until(self) -> datetime | None: ...


class EventStore(Protocol):
    def add(self, event: Event) -> bool:
        """Store the event unless its idempotency key exists; True when stored now."""

    def get(self, event_id: str) -> Event: ...

    def list(
        self, query: EventQuery, *, limit: int, offset: int
    ) -> tuple[builtins.list[Event], int]: ...

    def page(
        self, query: EventQuery, *, limit: int, after: Position | None = None, offset: int = 0
    ) -> Page[Event]:
        """Newest first, in SQL: the rows after ``after`` (a keyset position), or after
        ``offset`` rows; the total only when at most paging.COUNT_CAP rows match."""

    def add_many(self, events: Sequence[Event]) -> set[str]:
        """Store each event whose idempotency key is new, in one statement per batch;
        returns the idempotency keys stored now."""

    def counts(
        self, query: EventQuery, by: str, *, bucket_s: int | None = None, limit: int = 20
    ) -> builtins.list[tuple[Any, int]]:
        """How many matching events per value of column ``by`` (or per time bucket of
        ``bucket_s`` seconds when ``by`` is "time"), counted in SQL."""


@dataclass(frozen=True)
class PassListRow:
    apple_pass: ApplePass
    member: Member
    devices: builtins.list[PassDevice]


class PassList(Protocol):
    def page(
        self,
        *,
        status: str | None,
        device: str | None,
        search: str | None,
        limit: int,
        after: Position | None = None,
        offset: int = 0,
    ) -> Page[PassListRow]:
        """Newest first, filtered, joined and paged in SQL; each row with its devices."""


class Outbox(Protocol):
    def add(self, message: OutboxMessage) -> None: ...

    def add_many(self, messages: Sequence[OutboxMessage]) -> None: ...

    def claim(
        self, topic: str, *, worker_id: str, now: datetime, lease_s: float, limit: int
    ) -> list[OutboxMessage]:
        """Lease up to ``limit`` due messages to ``worker_id`` (unscoped: the worker serves all)."""

    def mark_delivered(self, message_id: int, now: datetime) -> None: ...

    def mark_retry(self, message_id: int, *, error: str, next_attempt_at: datetime) -> None: ...

    def defer(self, message_id: int, *, next_attempt_at: datetime) -> None:
        """Release the lease until ``next_attempt_at`` without counting an attempt."""

    def mark_failed(self, message_id: int, *, error: str, now: datetime) -> None: ...

    def pending(self, topic: str | None = None) -> list[OutboxMessage]: ...


class ReaderChangeLog(Protocol):
    """The reader change log (written by the repositories themselves, see
    adapters.db.change_log) and the readers' applied-version acks."""

    def heads(self, org_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        """Organization -> (last sequence number, horizon: highest pruned one)."""

    def after(self, org_id: str, seq: int, upto: int) -> list[tuple[int, str, str]]:
        """Entries ``seq < entry <= upto`` in order, as (seq, kind, object id)."""

    def last_seq(self, org_id: str, kind: str, object_id: str) -> int | None:
        """The sequence number of the object's latest entry still in the log."""

    def touch(self, org_id: str, kind: str, object_id: str) -> None:
        """Append an entry at this transaction's commit (a change no row write shows)."""

    def applied(self, org_id: str) -> dict[str, tuple[int, str, datetime]]:
        """Reader -> (applied version, digest, when)."""

    def record_applied(self, rows: Iterable[tuple[str, str, int, str, datetime]]) -> None:
        """Store (reader, org, version, digest, at) acks."""


class UnitOfWork(Protocol):
    # Wallet serials given a new version in this transaction: the unit of work signs
    # their .pkpass files and stores them just before it commits (services.credentials.pass_files).
    changed_serials: set[str]

    @property
    def org_id(self) -> str | None: ...
    @property
    def organizations(self) -> OrganizationRepository: ...
    @property
    def group_doors(self) -> GroupDoorLinks: ...
    @property
    def events(self) -> EventStore: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def pass_list(self) -> PassList: ...
    @property
    def reader_changes(self) -> ReaderChangeLog: ...

    def repo(self, entity_type: type[T]) -> Repository[T]: ...

    def find_api_key(self, key_id: str) -> ApiKey | None: ...

    def find_session(self, session_id: str) -> Session | None: ...

    def active_webhooks(self, org_id: str) -> list[Webhook]: ...

    def touch_api_key(self, key_id: str, now: datetime) -> None: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, org_id: str | None, *, write: bool = True) -> UnitOfWork: ...


class SecretBox(Protocol):
    """Symmetric encryption for secrets the server must use later (webhook secrets)."""

    def seal(self, plaintext: bytes) -> str: ...

    def open(self, sealed: str) -> bytes: ...


OUTBOX_STATES = ("queued", "retrying", "delivered", "failed")


@dataclass(frozen=True)
class OpsSnapshot:
    readers: dict[str, int]  # online, offline, tampered
    # (topic, state) -> messages; state is one of OUTBOX_STATES
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)
    # topic -> age in seconds of the oldest message still waiting for delivery
    oldest_pending_s: dict[str, float] = field(default_factory=dict)
    # topic -> failed delivery attempts recorded on the messages still kept (retried ones
    # that later succeeded included): its increase is the failure rate of every worker
    failed_attempts: dict[str, int] = field(default_factory=dict)


class OpsStats(Protocol):
    """The shared numbers behind /metrics, read across tenants."""

    def snapshot(self, now: datetime) -> OpsSnapshot: ...


class PushClient(Protocol):
    """An APNs connection: sends (push token, topic) pairs, results in order."""

    async def send_many(
        self, items: Iterable[tuple[str, str]], concurrency: int = 100
    ) -> list[PushOutcome]: ...

    async def aclose(self) -> None: ...


# Readers: links, keys and Aliro reader groups, and the one unscoped lookup the reader
# gateway needs (before a reader has proved who it is, the server knows only a pairing
# code or a reader id, not the organization; everything else runs in a unit of work).


@dataclass
class ReaderLink:
    """The server's side of a paired (or pairing) reader agent; id = the reader's id."""

    id: str
    org_id: str
    created_at: datetime
    public_key: str | None = None  # the agent's P-256 key (PEM); None = not paired
    pairing_code_hash: str | None = None  # SHA-256 hex of the one-time code
    pairing_expires_at: datetime | None = None
    paired_at: datetime | None = None
    tamper_seq: int = 0  # sequence of the last tamper event the server stored
    aliro_public_key: str | None = None  # the reader's own Aliro key (hex point)
    certificate: str | None = None  # its compressed reader certificate (hex)
    certificate_group: str | None = None  # the group identifier that issued it


@dataclass
class ReaderOrgKey:
    """An organization's snapshot-signing key (sealed)."""

    id: str
    org_id: str
    signing_key_sealed: str
    public_key: str  # PEM, handed to readers at pairing
    created_at: datetime


@dataclass
class AliroReaderGroup:
    """An Aliro reader group: its identifier and issuer key.

    See services/credentials/aliro_groups.py for the rotation.
    """

    id: str
    org_id: str
    group_identifier: str  # 16 bytes, hex
    issuer_key_sealed: str
    public_key: str  # hex of the 65-byte point devices trust
    state: str  # next | current | previous | retired
    created_at: datetime


class ReaderDirectory(Protocol):
    def org_of_pairing_code(self, code_hash: str) -> str | None: ...

    def org_of_reader(self, reader_id: str) -> str | None: ...


class ReaderChangeFeed(Protocol):
    """When to read the reader change log: which organizations' logs moved, any process.

    Subscribers get ``{org id: sequence number}`` after entries were committed, or
    ``None`` when any organization's log may have moved (compare the heads). Callbacks
    run in whatever thread learnt of it; they only hand it over.
    """

    def subscribe(self, callback: Callable[[Mapping[str, int] | None], None]) -> Callable[[], None]:
        """Start delivering to ``callback``; returns the unsubscribe function."""


# Sign-in: what the SSO services need from the identity-provider adapters.


class OidcRelyingParty(Protocol):
    def authorization_url(
        self,
        issuer: str,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        state: str,
        nonce: str,
        code_challenge: str,
        max_age_s: int,
    ) -> str: ...

    def exchange_code(
        self,
        issuer: str,
        *,
        client_id: str,
        client_secret: str | None,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """The ID token's claims, signature verified; raises LoginRefused otherwise."""


@dataclass(frozen=True)
class SamlAssertion:
    """A SAML response whose signature, audience, recipient, InResponseTo and times verified."""

    issuer: str
    assertion_id: str
    name_id: str
    class_refs: tuple[str, ...]
    authn_instant: datetime | None
    not_on_or_after: datetime
    attributes: dict[str, list[str]]


@dataclass(frozen=True)
class SamlSettings:
    idp_entity_id: str
    idp_sso_url: str | None
    idp_certificate: str | None
    idp_metadata_xml: str | None
    sp_entity_id: str
    acs_url: str


class SamlServiceProvider(Protocol):
    def authn_request(self, settings: SamlSettings, *, relay_state: str) -> tuple[str, str]:
        """(AuthnRequest id, redirect URL to the IdP)."""

    def parse_response(
        self, settings: SamlSettings, *, saml_response: str, request_id: str, now: datetime
    ) -> SamlAssertion:
        """Verify a base64 SAMLResponse posted to the ACS; raises LoginRefused otherwise."""


# Look-ups that run before the organization is known, and the clients of the worker and
# the routes.


class KeyDirectory(Protocol):
    def key_in_use(self, key_id: str) -> bool:
        """Whether any organization ever bound this credential key (key ids are global)."""


@dataclass(frozen=True)
class StoredPass:
    org_id: str
    updated_at: datetime
    version: datetime | None  # the stored file's, None when there is none
    signed_with: str | None
    sealed: bytes | None


class WalletDirectory(Protocol):
    """Look-ups that run before the organization is known (Wallet sends no tenant)."""

    def org_of_serial(self, serial: str) -> str | None: ...

    def version_of(self, serial: str) -> tuple[str, datetime] | None:
        """(org_id, current version) of a serial."""

    def stored_pass(self, serial: str) -> StoredPass | None:
        """The serial's organization and version, with its stored file's columns."""

    def updated_serials(
        self, device_library_id: str, pass_type_id: str, since: datetime | None
    ) -> list[tuple[str, datetime]]: ...

    def owners_of(self, serials: set[str]) -> dict[str, tuple[str, str]]:
        """serial -> (org_id, pass_id) for the serials that exist."""

    def add_logs(self, logs: Sequence[WalletLog], *, keep: int) -> None:
        """Store ``logs``, then keep only the newest ``keep`` rows of each pass they name
        and of the lines that name none."""


class HttpPoster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        """POST and return the status code; raise OSError-like errors on transport failure."""


class RateLimit(Protocol):
    limit: int
    window: timedelta

    def allow(self, key: str, now: datetime) -> bool:
        """Count one request of ``key`` at ``now``; False (not counted) when over the limit."""

    def exhausted(self, key: str, now: datetime) -> bool:
        """Whether ``key`` is at its limit, without counting anything."""


class RetentionStore(Protocol):
    def delete_before(self, table: str, column: str, before: datetime) -> int:
        """Delete the rows of ``table`` whose ``column`` is earlier than ``before``."""
