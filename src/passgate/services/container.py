"""What the entry points (web, worker) may ask of the composition root.

``passgate.bootstrap`` builds the concrete object from settings and adapters; web
and worker see only this protocol, typed with the ports of ``services``, so they
never import an adapter, the bootstrap module or SQLAlchemy.
"""

from __future__ import annotations

from typing import Protocol

from passgate.config import Settings
from passgate.domain.model import SessionKind
from passgate.services.auth.apikeys import Authenticator
from passgate.services.auth.sessions import SessionPolicy
from passgate.services.credentials.pass_admin import PassCommands
from passgate.services.credentials.passkit_service import PasskitService
from passgate.services.credentials.wallet import WalletConfig
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
    def uow_factory(self) -> UnitOfWorkFactory: ...

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
