"""Tables of the Apple Pass area: Wallet serials and their signed files, PassKit
registrations, Wallet logs.

Also the rule R7 in the schema: at most one not-deleted pass per member and
organization, as a unique partial index on apple_passes, so two concurrent add
requests cannot both create a pass whatever the service layer does.
"""

from __future__ import annotations

import sqlalchemy as sa

from passgate.adapters.db.tables import (
    ID,
    UTCDateTime,
    _created,
    _id,
    _org,
    _same_org,
    apple_passes,
    metadata,
    register_table,
)
from passgate.domain.pass_records import (
    WalletLog,
    WalletPassFile,
    WalletRegistration,
    WalletSerial,
)

_LIVE = apple_passes.c.status != "deleted"

ONE_LIVE_PASS_PER_MEMBER = sa.Index(
    "uq_apple_passes_one_live_per_member",
    apple_passes.c.org_id,
    apple_passes.c.member_id,
    unique=True,
    sqlite_where=_LIVE,
    postgresql_where=_LIVE,
)

wallet_serials = sa.Table(
    "wallet_serials",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    _org(),
    sa.Column("pass_id", ID, nullable=False, index=True),
    sa.Column("device_row_id", ID, nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    _same_org("pass_id", "apple_passes"),
)

# One row per serial: the signed .pkpass of its current version (sealed), written in the
# transaction that made the version, so GET serves stored bytes instead of signing.
wallet_pass_files = sa.Table(
    "wallet_pass_files",
    metadata,
    sa.Column("id", sa.String(64), sa.ForeignKey("wallet_serials.id"), primary_key=True),
    _org(),
    sa.Column("version", UTCDateTime(), nullable=False),
    sa.Column("signed_with", sa.String(64), nullable=False),
    sa.Column("sealed", sa.LargeBinary(), nullable=False),
)

wallet_registrations = sa.Table(
    "wallet_registrations",
    metadata,
    _id(),
    _org(),
    sa.Column("device_library_id", sa.String(100), nullable=False, index=True),
    sa.Column("pass_type_id", sa.String(200), nullable=False),
    sa.Column("serial", sa.String(64), sa.ForeignKey("wallet_serials.id"), nullable=False),
    sa.Column("push_token", sa.String(200), nullable=False),
    _created(),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.UniqueConstraint("device_library_id", "serial", name="uq_wallet_registrations_device"),
)

wallet_logs = sa.Table(
    "wallet_logs",
    metadata,
    _id(),
    # Wallet posts logs without credentials: a line is tied to an organization only
    # when it names one of its serials; the others are kept for the operator.
    sa.Column("org_id", ID, sa.ForeignKey("organizations.id"), nullable=True),
    sa.Column("pass_id", ID, nullable=True),
    sa.Column("serial", sa.String(64), nullable=True),
    sa.Column("message", sa.String(2000), nullable=False),
    _created(),
    sa.Index("ix_wallet_logs_pass", "org_id", "pass_id", "created_at"),
)

register_table(WalletSerial, wallet_serials)
register_table(WalletPassFile, wallet_pass_files)
register_table(WalletRegistration, wallet_registrations)
register_table(WalletLog, wallet_logs)
