"""Wires concrete adapters to the services. The only module that names them all.

Nothing is built at import time: ``build_container(settings)`` makes the engine,
the unit-of-work factory, the authenticator and the secret box on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property

from sqlalchemy.engine import Engine

from passgate.adapters.db.engine import create_engine
from passgate.adapters.db.repository import SqlUnitOfWorkFactory
from passgate.adapters.http_poster import HttpxPoster
from passgate.adapters.secretbox import AesGcmSecretBox
from passgate.config import Settings
from passgate.domain.model import SessionKind
from passgate.services.apikeys import Authenticator
from passgate.services.ports import UnitOfWorkFactory
from passgate.services.sessions import SessionPolicy


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
        return HttpxPoster(self.settings.webhook_timeout_s)

    @cached_property
    def secret_box(self) -> AesGcmSecretBox:
        # Built on first use: schema and operator commands run without the server secret.
        return AesGcmSecretBox(self.settings.secret_key_bytes())

    def close(self) -> None:
        self.engine.dispose()


def build_container(settings: Settings, *, clock: SystemClock | None = None) -> Container:
    engine = create_engine(settings.database_url)
    uow_factory = SqlUnitOfWorkFactory(engine)
    operator_key = settings.operator_key.get_secret_value() if settings.operator_key else None
    return Container(
        settings=settings,
        engine=engine,
        uow_factory=uow_factory,
        authenticator=Authenticator(uow_factory, operator_key),
        clock=clock or SystemClock(),
    )
