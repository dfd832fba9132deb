"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create it.

Every tenant-owned table has a non-null ``org_id`` with a foreign key to
``organizations``; composite foreign keys (org_id, id) make it impossible for a
row of one organization to reference another organization's row, even if a bug
above got past the repository's scoping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite stores the ISO text SQLAlchemy wrote ("2026-12-02 13:11:00.123456");
        # the C parser reads it in a third of the time of the dialect's regular
        # expression, which counts on a list page of hundreds of timestamps.
        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
            assert isinstance(parsed, datetime)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


ID = sa.String(40)
NAME = sa.String(200)


def _id() -> sa.Column[str]:
    return sa.Column("id", ID, primary_key=True)


def _org() -> sa.Column[str]:
    return sa.Column("org_id", ID, sa.ForeignKey("organizations.id"), nullable=False, index=True)


def _created() -> sa.Column[datetime]:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


def _same_org(column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", column],
        [f"{table}.org_id", f"{table}.id"],
        name=f"fk_{column}_same_org",
    )


organizations = sa.Table(
    "organizations",
    metadata,
    _id(),
    sa.Column("name", NAME, nullable=False),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("sso_enforced", sa.Boolean, nullable=False, default=False),
    sa.Column("mfa_required", sa.Boolean, nullable=False, default=False),
    _created(),
)

subscriptions = sa.Table(
    "subscriptions",
    metadata,
    _id(),
    _org(),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("valid_from", UTCDateTime(), nullable=False),
    sa.Column("valid_until", UTCDateTime(), nullable=True),
    _created(),
)

places = sa.Table(
    "places",
    metadata,
    _id(),
    _org(),
    sa.Column("name", NAME, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("address", sa.String(500), nullable=True),
    _created(),
    sa.UniqueConstraint("org_id", "id", name="uq_places_org_id_id"),
)

schedules = sa.Table(
    "schedules",
    metadata,
    _id(),
    _org(),
    sa.Column("name", NAME, nullable=False),
    sa.Column("windows", sa.JSON, nullable=False),
    sa.Column("holidays", sa.JSON, nullable=False),
    _created(),
    sa.UniqueConstraint("org_id", "id", name="uq_schedules_org_id_id"),
)

doors = sa.Table(
    "doors",
    metadata,
    _id(),
    _org(),
    sa.Column("place_id", ID, nullable=False, index=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("lockdown", sa.Boolean, nullable=False),
    sa.Column("staleness_limit_s", sa.Integer, nullable=False),
    sa.Column("schedule_id", ID, nullable=True),
    _created(),
    sa.UniqueConstraint("org_id", "id", name="uq_doors_org_id_id"),
    _same_org("place_id", "places"),
    _same_org("schedule_id", "schedules"),
)

readers = sa.Table(
    "readers",
    metadata,
    _id(),
    _org(),
    sa.Column("door_id", ID, nullable=False, index=True),
    sa.Column("name", NAME, nullable=False),
    sa.Column("model", sa.String(40), nullable=False),
    sa.Column("firmware", sa.String(40), nullable=False),
    sa.Column("tamper_protection", sa.Boolean, nullable=False),
    sa.Column("tampered", sa.Boolean, nullable=False),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("last_seen_at", UTCDateTime(), nullable=True),
    _created(),
    sa.UniqueConstraint("org_id", "id", name="uq_readers_org_id_id"),
    _same_org("door_id", "doors"),
)

groups = sa.Table(
    "groups",
    metadata,
    _id(),
    _org(),
    sa.Column("name", NAME, nullable=False),
    sa.Column("description", sa.String(1000), nullable=True),
    sa.Column("schedule_id", ID, nullable=True),
    _created(),
    sa.UniqueConstraint("org_id", "id", name="uq_groups_org_id_id"),
    _same_org("schedule_id", "schedules"),
)

group_doors = sa.Table(
    "group_doors",
    metadata,
    sa.Column("org_id", ID, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("group_id", ID, primary_key=True),
    sa.Column("door_id", ID, primary_key=True, index=True),
    _same_org("group_id", "groups"),
    _same_org("door_id", "doors"),
)

members = sa.Table(
    "members",
    metadata,
    _id(),
    _org(),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("display_name", NAME, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("external_id", sa.String(200), nullable=True),
    _created(),
    sa.UniqueConstraint("org_id", "id", name="uq_members_org_id_id"),
    sa.UniqueConstraint("org_id", "email", name="uq_members_org_id_email"),
)

access_rights = sa.Table(
    "access_rights",
    metadata,
    _id(),
    _org(),
    sa.Column("member_id", ID, nullable=False, index=True),
    sa.Column("group_id", ID, nullable=False, index=True),
    sa.Column("valid_from", UTCDateTime(), nullable=True),
    sa.Column("valid_until", UTCDateTime(), nullable=True),
    _created(),
    _same_org("member_id", "members"),
    _same_org("group_id", "groups"),
    # A member's rights by key (the reader hub reloads one member's on a change).
    sa.Index("ix_access_rights_org_member", "org_id", "member_id"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    _id(),
    _org(),
    sa.Column("name", NAME, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    _created(),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    _id(),
    _org(),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("event_types", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("secret_encrypted", sa.String(200), nullable=False),
    _created(),
)

events = sa.Table(
    "events",
    metadata,
    _id(),
    _org(),
    sa.Column("category", sa.String(10), nullable=False),
    sa.Column("type", sa.String(60), nullable=False),
    # Reader events use "<reader_id>:<sequence>"; storing it unique makes ingest idempotent.
    sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
    sa.Column("occurred_at", UTCDateTime(), nullable=False),
    sa.Column("recorded_at", UTCDateTime(), nullable=False),
    sa.Column("actor_type", sa.String(20), nullable=True),
    sa.Column("actor_id", ID, nullable=True),
    sa.Column("actor_name", NAME, nullable=True),
    sa.Column("object_type", sa.String(40), nullable=True),
    sa.Column("object_id", ID, nullable=True),
    sa.Column("door_id", ID, nullable=True),
    sa.Column("reader_id", ID, nullable=True),
    sa.Column("member_id", ID, nullable=True),
    sa.Column("credential_id", ID, nullable=True),
    sa.Column("granted", sa.Boolean, nullable=True),
    sa.Column("reason", sa.String(40), nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Index("ix_events_org_recorded", "org_id", "recorded_at"),
    # The event list's order (newest first by occurred_at, id) under each filter it
    # pages often by (adapters/db/lists.py); the other filters narrow one of these.
    sa.Index("ix_events_org_occurred", "org_id", "occurred_at", "id"),
    sa.Index("ix_events_org_member_occurred", "org_id", "member_id", "occurred_at", "id"),
    sa.Index("ix_events_org_door_occurred", "org_id", "door_id", "occurred_at", "id"),
    sa.Index("ix_events_org_reader_occurred", "org_id", "reader_id", "occurred_at", "id"),
)
# Denials, the most common investigation: a partial index of the list's order.
_DENIED = events.c.granted == sa.false()
sa.Index(
    "ix_events_org_denied_occurred",
    events.c.org_id,
    events.c.occurred_at,
    events.c.id,
    sqlite_where=_DENIED,
    postgresql_where=_DENIED,
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    _org(),
    sa.Column("topic", sa.String(20), nullable=False),
    sa.Column("target_id", ID, nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    _created(),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("delivered_at", UTCDateTime(), nullable=True),
    sa.Column("failed_at", UTCDateTime(), nullable=True),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("locked_until", UTCDateTime(), nullable=True),
    sa.Column("locked_by", sa.String(60), nullable=True),
    sa.Index("ix_outbox_pending", "topic", "delivered_at", "failed_at", "next_attempt_at"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    _id(),
    _org(),
    sa.Column("member_id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("protocol", sa.String(10), nullable=False),
    sa.Column("idp", sa.String(500), nullable=False),
    sa.Column("mfa_proven", sa.Boolean, nullable=False),
    sa.Column("mfa_methods", sa.JSON, nullable=False),
    sa.Column("auth_time", UTCDateTime(), nullable=False),
    _created(),
    sa.Column("last_seen_at", UTCDateTime(), nullable=False),
    sa.Column("idle_expires_at", UTCDateTime(), nullable=False),
    sa.Column("absolute_expires_at", UTCDateTime(), nullable=False),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    _same_org("member_id", "members"),
)

sso_connections = sa.Table(
    "sso_connections",
    metadata,
    _id(),
    sa.Column("org_id", ID, sa.ForeignKey("organizations.id"), nullable=False, unique=True),
    sa.Column("protocol", sa.String(10), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    # Non-secret settings (issuer, client id, IdP metadata...); secrets sealed apart.
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("secret_sealed", sa.String(2000), nullable=True),
    sa.Column("accepted_mfa", sa.JSON, nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

apple_passes = sa.Table(
    "apple_passes",
    metadata,
    _id(),
    _org(),
    sa.Column("member_id", ID, nullable=False, index=True),
    sa.Column("serial_number", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(12), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("suspended_at", UTCDateTime(), nullable=True),
    sa.Column("deleted_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("org_id", "id", name="uq_apple_passes_org_id_id"),
    _same_org("member_id", "members"),
    # The pass list's order (newest first), unfiltered and by status.
    sa.Index("ix_apple_passes_org_created", "org_id", "created_at", "id"),
    sa.Index("ix_apple_passes_org_status_created", "org_id", "status", "created_at", "id"),
)

pass_devices = sa.Table(
    "pass_devices",
    metadata,
    _id(),
    _org(),
    sa.Column("pass_id", ID, nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("device_id", sa.String(100), nullable=False),
    sa.Column("model", sa.String(60), nullable=False),
    sa.Column("os_version", sa.String(20), nullable=False),
    sa.Column("app_version", sa.String(20), nullable=True),
    # The device's own credential key (P-256, uncompressed point, hex); key_id = its SHA-256.
    sa.Column("public_key", sa.String(130), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False, unique=True),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("paired_device_id", ID, nullable=True),
    sa.Column("added_at", UTCDateTime(), nullable=False),
    sa.Column("replaced_at", UTCDateTime(), nullable=True),
    sa.Column("last_used_at", UTCDateTime(), nullable=True),
    _same_org("pass_id", "apple_passes"),
)

# Entity -> table for the tenant repositories; area modules register theirs.
ENTITY_TABLES: dict[type[Any], sa.Table] = {}


def register_table(entity_type: type[Any], table: sa.Table) -> None:
    ENTITY_TABLES[entity_type] = table


# Area modules (tables_<area>.py) are imported by passgate/adapters/db/__init__.py, which
# is where a new area adds its one import line (importing them here would be circular).
