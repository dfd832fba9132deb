"""What the entry points (web, worker) may ask of the composition root.

``passgate.bootstrap`` builds the concrete object from settings and adapters; web
and worker see only this protocol, typed with the ports of ``services``, so they
never import an adapter, the bootstrap module or SQLAlchemy.
"""

from __future__ import annotations

from typing import Protocol

from passgate.config import Settings
from passgate.domain.model import SessionKind
from passgate.services.auth.apikeys import ApiKeyCommands, Authenticator
from passgate.services.auth.sessions import SessionPolicy
from passgate.services.credentials.app_credentials import AppCredentialCommands
from passgate.services.credentials.pass_admin import PassCommands
from passgate.services.credentials.pass_list import PassList as PassListQuery
from passgate.services.credentials.pass_pushes import PushOutbox
from passgate.services.credentials.passes import PassProvisioning
from passgate.services.credentials.passkit_service import PasskitService
from passgate.services.credentials.wallet import WalletConfig
from passgate.services.delivery.webhooks import WebhookCommands
from passgate.services.directory.commands import DirectoryCommands
from passgate.services.directory.event_log import EventLog
from passgate.services.directory.me import MeQueries
from passgate.services.directory.scim import ScimCommands
from passgate.services.organizations import OrganizationCommands
from passgate.services.ports import (
    Clock,
    HttpPoster,
    KeyDirectory,
    OpsStats,
    PushClient,
    RateLimit,
    ReaderChangeFeed,
    ReaderDirectory,
    RetentionStore,
    SecretBox,
    UnitOfWorkFactory,
    WalletDirectory,
)
from passgate.services.readers.door_commands import DoorCommands
from passgate.services.readers.pairing import PairingCommands
from passgate.services.readers.reader_rollout import RolloutQueries
from passgate.services.signin.sso import SsoCommands
from passgate.services.signin.sso_login import SsoDeps


class WalletKeys(WalletDirectory, KeyDirectory, Protocol):
    """The cross-tenant wallet look-ups: serials, registrations and bound key ids."""


class Poster(HttpPoster, Protocol):
    """A webhook HTTP client the worker owns and closes."""

    def close(self) -> None: ...


class Container(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def authenticator(self) -> Authenticator: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def secret_box(self) -> SecretBox: ...

    @property
    def retention_store(self) -> RetentionStore: ...

    @property
    def reader_directory(self) -> ReaderDirectory: ...

    @property
    def wallet_directory(self) -> WalletKeys: ...

    @property
    def wallet_config(self) -> WalletConfig: ...

    @property
    def passkit_service(self) -> PasskitService: ...

    @property
    def pass_commands(self) -> PassCommands: ...

    # The commands and queries of each area: every one checks the caller's role and
    # owns its transaction, so a route never opens a unit of work.
    @property
    def directory(self) -> DirectoryCommands: ...

    @property
    def organizations(self) -> OrganizationCommands: ...

    @property
    def api_keys(self) -> ApiKeyCommands: ...

    @property
    def webhooks(self) -> WebhookCommands: ...

    @property
    def me(self) -> MeQueries: ...

    @property
    def app_credentials(self) -> AppCredentialCommands: ...

    @property
    def door_commands(self) -> DoorCommands: ...

    @property
    def sso_commands(self) -> SsoCommands: ...

    @property
    def scim(self) -> ScimCommands: ...

    @property
    def push_outbox(self) -> PushOutbox: ...

    @property
    def pairing(self) -> PairingCommands: ...

    @property
    def event_log(self) -> EventLog: ...

    @property
    def pass_list(self) -> PassListQuery: ...

    @property
    def provisioning(self) -> PassProvisioning: ...

    @property
    def rollouts(self) -> RolloutQueries: ...

    @property
    def sso(self) -> SsoDeps: ...

    @property
    def reads_in_process(self) -> bool: ...

    @property
    def sso_failures(self) -> RateLimit: ...

    @property
    def passkit_log_limit(self) -> RateLimit: ...

    @property
    def ops_stats(self) -> OpsStats: ...

    def session_policy(self, kind: SessionKind) -> SessionPolicy: ...

    def webhook_poster(self) -> Poster: ...

    def apns_client(self) -> PushClient | None: ...

    def readiness(self) -> dict[str, str]: ...

    @property
    def reader_feed(self) -> ReaderChangeFeed: ...

    def close(self) -> None: ...


class ServiceWiring(Container, Protocol):
    """The container as a service that is built from all of it sees it (the reader
    hub): the entry points' view plus the unit-of-work factory. Routes, the worker and
    the CLI get ``Container``, which has no ``uow_factory``: they call the commands and
    queries above, which open their own transactions."""

    @property
    def uow_factory(self) -> UnitOfWorkFactory: ...
