"""Wires concrete adapters to the services. The only module that names them all.

Nothing is built at import time: ``build_container(settings)`` makes the engine,
the unit-of-work factory, the authenticator and the secret box on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from passgate.adapters.db.change_feed import DbChangeFeed
from passgate.adapters.db.engine import create_engine
from passgate.adapters.db.repository import SqlUnitOfWorkFactory
from passgate.adapters.db.retention_store import SqlRetentionStore
from passgate.adapters.db.tables_readers import SqlReaderDirectory
from passgate.adapters.http_poster import HttpxPoster
from passgate.adapters.secretbox import AesGcmSecretBox
from passgate.config import Settings
from passgate.domain.model import SessionKind
from passgate.services.auth.apikeys import ApiKeyCommands, Authenticator
from passgate.services.auth.sessions import SessionPolicy
from passgate.services.credentials.app_credentials import AppCredentialCommands
from passgate.services.credentials.pass_admin import PassCommands
from passgate.services.credentials.pass_list import PassList as PassListQuery
from passgate.services.delivery.webhooks import WebhookCommands
from passgate.services.directory.commands import DirectoryCommands
from passgate.services.directory.event_log import EventLog
from passgate.services.directory.me import MeQueries
from passgate.services.directory.scim import ScimCommands
from passgate.services.organizations import OrganizationCommands
from passgate.services.ports import RateLimit, UnitOfWork, UnitOfWorkFactory
from passgate.services.rate_limit import (
    PASSKIT_LOG_LIMIT,
    PASSKIT_LOG_WINDOW,
    SSO_FAILED_LOGINS,
    SSO_FAILED_WINDOW,
)
from passgate.services.readers.door_commands import DoorCommands
from passgate.services.readers.pairing import PairingCommands
from passgate.services.readers.reader_rollout import RolloutQueries
from passgate.services.signin.sso import SsoCommands
from passgate.services.signin.sso_login import SsoDeps

if TYPE_CHECKING:  # Apple Pass area types, imported lazily by their properties
    from passgate.adapters.apns import ApnsClient
    from passgate.adapters.db.ops_stats import SqlOpsStats
    from passgate.adapters.db.wallet_directory import SqlWalletDirectory
    from passgate.adapters.passcerts import PassCertificates
    from passgate.services.credentials.aliro_groups import ReaderGroupCommands
    from passgate.services.credentials.pass_pushes import PushOutbox
    from passgate.services.credentials.passes import PassProvisioning
    from passgate.services.credentials.passkit_service import PasskitService
    from passgate.services.credentials.wallet import WalletConfig


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: Engine
    uow_factory: UnitOfWorkFactory
    authenticator: Authenticator
    clock: SystemClock

    def session_policy(self, kind: SessionKind) -> SessionPolicy:
        st = self.settings
        if kind is SessionKind.BROWSER:
            return SessionPolicy(
                idle=timedelta(seconds=st.browser_session_idle_s),
                absolute=timedelta(seconds=st.browser_session_max_s),
            )
        return SessionPolicy(
            idle=timedelta(seconds=st.app_session_idle_s),
            absolute=timedelta(seconds=st.app_session_max_s),
        )

    def webhook_poster(self) -> HttpxPoster:
        """A new HTTP client for webhook deliveries (one per worker; close it when done)."""
        return HttpxPoster(self.settings.webhook_timeout_s, self.settings.webhook_allowed_hosts)

    def apns_client(self) -> ApnsClient | None:
        """A new APNs client for the push worker, or None when APNs is not configured."""
        from passgate.adapters.apns import ApnsClient

        st = self.settings
        if st.apns_url is None:
            return None
        if st.apns_token_key_path is not None:
            return ApnsClient(
                base_url=st.apns_url,
                team_id=st.apns_team_id,
                key_id=st.apns_key_id,
                token_key_pem=Path(st.apns_token_key_path).read_bytes(),
                ca_file=st.apns_ca_path,
                max_attempts=2,
            )
        return ApnsClient(
            base_url=st.apns_url,
            cert_file=st.pass_cert_path,
            key_file=st.pass_key_path,
            ca_file=st.apns_ca_path,
            max_attempts=2,
        )

    @cached_property
    def secret_box(self) -> AesGcmSecretBox:
        # Built on first use: schema and operator commands run without the server secret.
        return AesGcmSecretBox(self.settings.secret_key_bytes())

    @cached_property
    def retention_store(self) -> SqlRetentionStore:
        return SqlRetentionStore(self.engine)

    @cached_property
    def reads_in_process(self) -> bool:
        """True when a read is a local call of microseconds (SQLite), not a round trip."""
        return self.engine.dialect.name == "sqlite"

    @cached_property
    def sso_failures(self) -> RateLimit:
        """Failed sign-ins per organization and source, counted across processes."""
        from passgate.adapters.db.rate_limits import SqlRateLimiter

        return SqlRateLimiter(self.engine, "sso_failures", SSO_FAILED_LOGINS, SSO_FAILED_WINDOW)

    @cached_property
    def passkit_log_limit(self) -> RateLimit:
        """PassKit /log requests per client, counted across processes."""
        from passgate.adapters.db.rate_limits import SqlRateLimiter

        return SqlRateLimiter(self.engine, "passkit_log", PASSKIT_LOG_LIMIT, PASSKIT_LOG_WINDOW)

    @cached_property
    def reader_directory(self) -> SqlReaderDirectory:
        """Unscoped reader look-ups for pairing and connect (before the tenant is known)."""
        return SqlReaderDirectory(self.engine)

    # --- Apple Pass area (imports local: only pass-serving processes need them) ---
    @cached_property
    def pass_certificates(self) -> PassCertificates:
        """Pass signing chain; raises PreconditionFailed for an unusable configured one."""
        from passgate.adapters.passcerts import load_pass_certificates

        return load_pass_certificates(self.settings, self.clock.now())

    @cached_property
    def wallet_directory(self) -> SqlWalletDirectory:
        from passgate.adapters.db.wallet_directory import SqlWalletDirectory

        return SqlWalletDirectory(self.engine)

    @cached_property
    def wallet_config(self) -> WalletConfig:
        import hashlib
        import hmac

        from passgate.services.credentials.wallet import WalletConfig

        st = self.settings
        # A key of its own for pass tokens, derived from the server secret.
        auth_key = hmac.new(
            st.secret_key_bytes(), b"passgate/passkit-authentication-token", hashlib.sha256
        ).digest()
        return WalletConfig(
            signer=self.pass_certificates.signer,
            pass_type_identifier=st.pass_type_identifier,
            team_identifier=st.team_identifier,
            web_service_url=st.public_url.rstrip("/") + "/passkit",
            auth_key=auth_key,
        )

    def sign_changed_passes(self, uow: UnitOfWork) -> None:
        """Before a write commits: sign and store the .pkpass of each new pass version."""
        from passgate.services.credentials.pass_files import sign_changed

        sign_changed(uow, self.wallet_config)

    @cached_property
    def passkit_service(self) -> PasskitService:
        from passgate.services.credentials.passkit_service import PasskitService

        return PasskitService(
            self.uow_factory, self.wallet_directory, self.wallet_config, self.clock
        )

    @cached_property
    def pass_commands(self) -> PassCommands:
        return PassCommands(self.uow_factory, self.clock, self.settings.pass_type_identifier)

    # The commands and queries of each area: built on each use (they are small), so they
    # always see the settings the container has now.
    @property
    def directory(self) -> DirectoryCommands:
        return DirectoryCommands(
            self.uow_factory, self.clock, self.settings.pass_type_identifier, self._offline_after
        )

    @property
    def organizations(self) -> OrganizationCommands:
        return OrganizationCommands(self.uow_factory, self.clock)

    @property
    def api_keys(self) -> ApiKeyCommands:
        return ApiKeyCommands(self.uow_factory, self.clock)

    @property
    def webhooks(self) -> WebhookCommands:
        return WebhookCommands(
            self.uow_factory,
            self.clock,
            self.secret_box,
            self.settings.webhook_allowed_hosts,
            self.webhook_poster,
        )

    @property
    def me(self) -> MeQueries:
        return MeQueries(self.uow_factory)

    @property
    def app_credentials(self) -> AppCredentialCommands:
        return AppCredentialCommands(
            self.uow_factory, self.clock, self.secret_box, self.wallet_directory.key_in_use
        )

    @property
    def _offline_after(self) -> timedelta:
        """A reader not heard from for this long is offline (settings)."""
        return timedelta(seconds=self.settings.reader_offline_after_s)

    @property
    def door_commands(self) -> DoorCommands:
        return DoorCommands(self.uow_factory, self.clock, self._offline_after)

    @property
    def pairing(self) -> PairingCommands:
        from passgate.services.directory.catalog import READER

        return PairingCommands(
            self.uow_factory, self.clock, READER, self.reader_directory, self.secret_box
        )

    @property
    def reader_groups(self) -> ReaderGroupCommands:
        from passgate.services.credentials.aliro_groups import ReaderGroupCommands

        return ReaderGroupCommands(self.uow_factory, self.clock, self.secret_box)

    @property
    def provisioning(self) -> PassProvisioning:
        from passgate.services.credentials.passes import PassProvisioning

        return PassProvisioning(
            self.uow_factory,
            self.wallet_config,
            self.wallet_directory,
            self.secret_box,
            self.clock,
            timedelta(seconds=self.settings.mfa_max_age_s),
        )

    @property
    def event_log(self) -> EventLog:
        return EventLog(self.uow_factory, self.clock)

    @property
    def pass_list(self) -> PassListQuery:
        return PassListQuery(self.uow_factory)

    @property
    def rollouts(self) -> RolloutQueries:
        return RolloutQueries(self.uow_factory, self.clock, self.settings.reader_offline_after_s)

    @property
    def push_outbox(self) -> PushOutbox:
        from passgate.services.credentials.pass_pushes import PushOutbox

        st = self.settings
        return PushOutbox(self.uow_factory, self.clock, st.apns_max_attempts, st.apns_retry_base_s)

    @property
    def scim(self) -> ScimCommands:
        return ScimCommands(self.uow_factory, self.clock, self.settings.pass_type_identifier)

    @property
    def sso_commands(self) -> SsoCommands:
        return SsoCommands(
            self.uow_factory,
            self.clock,
            self.secret_box,
            timedelta(seconds=self.settings.mfa_max_age_s),
            self.settings.dev_mode,
            self.session_policy(SessionKind.APP),
        )

    @cached_property
    def sso(self) -> SsoDeps:
        """SSO login dependencies: the OIDC relying party and the SAML service provider."""
        import httpx

        from passgate.adapters.oidc import OidcClient
        from passgate.adapters.saml import PySaml2ServiceProvider

        return SsoDeps(
            uow_factory=self.uow_factory,
            clock=self.clock,
            box=self.secret_box,
            oidc=OidcClient(lambda: httpx.Client(timeout=10.0)),
            saml=PySaml2ServiceProvider(),
            browser_policy=self.session_policy(SessionKind.BROWSER),
        )

    # --- operations: readiness and the shared numbers behind /metrics ---
    @cached_property
    def ops_stats(self) -> SqlOpsStats:
        from passgate.adapters.db.ops_stats import SqlOpsStats

        return SqlOpsStats(self.engine)

    def readiness(self) -> dict[str, str]:
        """The checks behind /readyz, each "ok" or what is wrong.

        Ready means this process can do its work now: the database answers, its schema
        is the one this code expects, and passes can be signed with a valid certificate.
        """
        from sqlalchemy.exc import DBAPIError

        from passgate.adapters.db import migrate as mig

        checks: dict[str, str] = {}
        try:
            at = mig.current(self.engine)
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()
            checks["database"] = "unreachable: " + (detail[0] if detail else type(exc).__name__)
            checks["schema"] = "unknown (database unreachable)"
        else:
            checks["database"] = "ok"
            want = mig.heads()
            checks["schema"] = (
                "ok"
                if at == want
                else f"at {', '.join(at) or 'none'}, this version needs {', '.join(want)}"
                " (run passgate migrate)"
            )
        checks["pass_certificate"] = self._pass_certificate_problem() or "ok"
        return checks

    def _pass_certificate_problem(self) -> str | None:
        from passgate.domain.errors import PassgateError
        from passgate.proto.passkit.chain import validity_problem

        try:
            signer = self.pass_certificates.signer
        except PassgateError as exc:
            return exc.message
        now = self.clock.now()
        return validity_problem(
            signer.pass_certificate, now, "the pass certificate"
        ) or validity_problem(signer.wwdr_certificate, now, "the WWDR certificate")

    @cached_property
    def reader_feed(self) -> DbChangeFeed:
        """Which organizations' reader change logs moved, in any process: NOTIFY/LISTEN
        on PostgreSQL, this process's commits and a poll of the heads on SQLite
        (adapters.db.change_feed)."""
        return DbChangeFeed(self.engine, poll_interval_s=self.settings.reader_poll_interval_s)

    def close(self) -> None:
        if "reader_feed" in self.__dict__:
            self.reader_feed.close()
        self.engine.dispose()


def build_container(settings: Settings, *, clock: SystemClock | None = None) -> Container:
    engine = create_engine(settings.database_url)
    uow_factory = SqlUnitOfWorkFactory(
        engine,
        log_keep_entries=settings.reader_log_keep_entries,
        log_keep_s=settings.reader_log_keep_s,
    )
    operator_key = settings.operator_key.get_secret_value() if settings.operator_key else None
    container = Container(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        authenticator=Authenticator(uow_factory, operator_key),
        clock=clock or SystemClock(),
    )
    # A new pass version and its signed file are committed together
    # (services.credentials.pass_files).
    uow_factory.before_commit = container.sign_changed_passes
    # A commit that appended to the reader change log wakes this process's reader hub.
    uow_factory.after_append = container.reader_feed.committed
    return container
