"""Typed settings, read from environment variables prefixed ``PASSGATE_``.

Validated once at start-up; a production process refuses placeholder or short
secrets so a copy-pasted example configuration never reaches real doors.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "example", "xxx", "todo"}
_MIN_SECRET_LENGTH = 32
_DATABASE_SCHEMES = {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSGATE_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///passgate.db",
        description="SQLAlchemy URL. SQLite file (default) or postgresql+psycopg://...",
    )
    dev_mode: bool = Field(
        default=False,
        description="Development mode: allows running without PASSGATE_SECRET_KEY (fixed dev key)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Server secret (>= 32 chars): encrypts webhook secrets at rest",
    )
    operator_key: SecretStr | None = Field(
        default=None,
        description="Operator API key (>= 32 chars): creates organizations, grants subscriptions",
    )
    host: str = Field(default="127.0.0.1", description="Address `passgate serve` binds")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `passgate serve` binds")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Log level"
    )
    log_format: Literal["json", "console"] = Field(
        default="json", description="One JSON object per line, or console lines"
    )
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics at /metrics")
    in_process_worker: bool | None = Field(
        default=None,
        description="Run the outbox worker inside `serve` (default: yes on SQLite, no otherwise)",
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Per delivery")
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Deliveries tried before a message is marked failed"
    )
    webhook_retry_base_s: float = Field(
        default=2.0, gt=0, le=3600, description="First retry delay; doubles per attempt"
    )
    retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days Wallet log lines, ended sessions and delivered outbox messages are "
        "kept (expired sign-in states and SAML replay entries go when they expire)",
    )
    webhook_allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Hosts, addresses or networks (JSON list) webhooks may reach although "
        "they are loopback, private, link-local or metadata addresses (refused otherwise)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (JSON list) of the reverse proxies in front of "
        "the server: only their X-Forwarded-Proto and X-Forwarded-For are believed (https "
        "cookies, HSTS, the client address rate limits count)",
    )

    browser_session_idle_s: int = Field(
        default=30 * 60, ge=60, le=86400, description="Dashboard session idle timeout"
    )
    browser_session_max_s: int = Field(
        default=12 * 3600, ge=300, le=7 * 86400, description="Dashboard session absolute lifetime"
    )
    app_session_idle_s: int = Field(
        default=30 * 86400, ge=3600, le=365 * 86400, description="Mobile app token idle timeout"
    )
    app_session_max_s: int = Field(
        default=90 * 86400, ge=3600, le=365 * 86400, description="Mobile app token lifetime"
    )
    mfa_max_age_s: int = Field(
        default=15 * 60,
        ge=60,
        le=86400,
        description="How recent an MFA sign-in must be to add an Apple Pass (R4)",
    )
    # --- SSO ---
    app_redirect_uris: list[str] = Field(
        default=["passgate://sso/callback"],
        description="Redirect URIs the mobile app may use for sign-in (JSON list)",
    )
    reader_poll_interval_s: float = Field(
        default=0.2,
        gt=0,
        le=3600,
        description="SQLite: how often a server looks for reader changes other processes "
        "committed to the same file (R16); PostgreSQL notifies every server at once",
    )
    reader_log_keep_entries: int = Field(
        default=10_000,
        ge=1,
        le=10_000_000,
        description="Reader change log: sequence numbers kept per organization at least",
    )
    reader_log_keep_s: float = Field(
        default=3600.0,
        ge=0,
        le=30 * 86400,
        description="Reader change log: entries younger than this are kept too (seconds)",
    )
    reader_heartbeat_s: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="How often the reader gateway confirms an unchanged cache is current",
    )
    reader_offline_after_s: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description="A reader not heard from for this long is shown offline (R16)",
    )
    # --- Apple Pass issuance (Wallet) ---
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        max_length=500,
        description="Public base URL of this server; passes carry <public_url>/passkit",
    )
    data_dir: str = Field(
        default=".passgate",
        description="Where development-mode files are kept (the dev pass certificate chain)",
    )
    pass_type_identifier: str = Field(
        default="pass.dev.passgate.door",
        description="Pass Type ID of the pass certificate (also the APNs topic)",
    )
    team_identifier: str = Field(
        default="PASSGATE00", description="Apple team identifier of the pass certificate"
    )
    pass_cert_path: str | None = Field(
        default=None, description="PEM pass certificate (unset in dev mode: a dev chain is made)"
    )
    pass_key_path: str | None = Field(default=None, description="PEM private key of the pass cert")
    pass_key_password: SecretStr | None = Field(
        default=None, description="Password of the pass key, if encrypted"
    )
    pass_wwdr_path: str | None = Field(
        default=None, description="PEM Apple WWDR intermediate that issued the pass certificate"
    )
    apns_url: str | None = Field(
        default=None,
        description="APNs endpoint (https://api.push.apple.com); unset: pushes stay queued",
    )
    apns_team_id: str | None = Field(default=None, description="APNs token auth: team id")
    apns_key_id: str | None = Field(default=None, description="APNs token auth: key id")
    apns_token_key_path: str | None = Field(
        default=None,
        description="APNs token auth: PEM P-256 key; unset: certificate auth with the pass cert",
    )
    apns_ca_path: str | None = Field(default=None, description="Extra CA file to trust for APNs")
    apns_max_attempts: int = Field(
        default=8, ge=1, le=50, description="Push attempts (across worker passes) before giving up"
    )
    apns_retry_base_s: float = Field(
        default=2.0, gt=0, le=3600, description="First push retry delay; doubles per attempt"
    )

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        try:
            urlsplit(value).port  # noqa: B018 (parsing it is the check: a bad port raises)
        except ValueError:
            scheme = ""
        if scheme not in _DATABASE_SCHEMES:
            raise ValueError(
                "use sqlite:///path/to/passgate.db or postgresql+psycopg://user@host/dbname"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return value

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        for name in ("secret_key", "operator_key"):
            value: SecretStr | None = getattr(self, name)
            if value is None:
                continue
            raw = value.get_secret_value()
            if raw.strip().lower() in _PLACEHOLDERS or len(raw) < _MIN_SECRET_LENGTH:
                raise ValueError(
                    f"PASSGATE_{name.upper()} must be a random value of at least "
                    f"{_MIN_SECRET_LENGTH} characters, not a placeholder"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def run_worker_in_process(self) -> bool:
        if self.in_process_worker is not None:
            return self.in_process_worker
        return self.is_sqlite

    def require_secret_key(self) -> None:
        """Called by commands that serve traffic: production needs a real server secret."""
        if not self.dev_mode and self.secret_key is None:
            raise ValueError("PASSGATE_SECRET_KEY is required outside development mode")

    def require_safe_bind(self) -> None:
        """Development mode has a fixed server secret and a built-in IdP: loopback only."""
        if not self.dev_mode:
            return
        try:
            loopback = ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            loopback = self.host == "localhost"
        if not loopback:
            raise ValueError(
                f"development mode serves on a loopback address only, not {self.host}: "
                "set PASSGATE_SECRET_KEY and drop --dev / PASSGATE_DEV_MODE to serve others"
            )

    def secret_key_bytes(self) -> bytes:
        self.require_secret_key()
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        # Development mode only: a fixed, clearly-labelled key.
        return b"passgate-development-only-secret-key-not-for-production"
