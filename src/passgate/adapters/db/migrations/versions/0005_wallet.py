"""Wallet: per-device serials, PassKit registrations, Wallet logs; one live pass per member

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passgate.adapters.db.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    live = sa.text("status != 'deleted'")
    op.create_index(
        "uq_apple_passes_one_live_per_member",
        "apple_passes",
        ["org_id", "member_id"],
        unique=True,
        sqlite_where=live,
        postgresql_where=live,
    )
    op.create_table(
        "wallet_serials",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("pass_id", sa.String(length=40), nullable=False),
        sa.Column("device_row_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "pass_id"],
            ["apple_passes.org_id", "apple_passes.id"],
            name="fk_pass_id_same_org",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_wallet_serials_org_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wallet_serials"),
    )
    op.create_index("ix_wallet_serials_org_id", "wallet_serials", ["org_id"])
    op.create_index("ix_wallet_serials_pass_id", "wallet_serials", ["pass_id"])
    op.create_table(
        "wallet_registrations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("device_library_id", sa.String(length=100), nullable=False),
        sa.Column("pass_type_id", sa.String(length=200), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("push_token", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_wallet_registrations_org_id_organizations"
        ),
        sa.ForeignKeyConstraint(
            ["serial"], ["wallet_serials.id"], name="fk_wallet_registrations_serial_wallet_serials"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wallet_registrations"),
        sa.UniqueConstraint("device_library_id", "serial", name="uq_wallet_registrations_device"),
    )
    op.create_index("ix_wallet_registrations_org_id", "wallet_registrations", ["org_id"])
    op.create_index(
        "ix_wallet_registrations_device_library_id", "wallet_registrations", ["device_library_id"]
    )
    op.create_table(
        "wallet_logs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=True),
        sa.Column("pass_id", sa.String(length=40), nullable=True),
        sa.Column("serial", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=2000), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_wallet_logs_org_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wallet_logs"),
    )
    op.create_index("ix_wallet_logs_pass", "wallet_logs", ["org_id", "pass_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_wallet_logs_pass", table_name="wallet_logs")
    op.drop_table("wallet_logs")
    op.drop_index("ix_wallet_registrations_device_library_id", table_name="wallet_registrations")
    op.drop_index("ix_wallet_registrations_org_id", table_name="wallet_registrations")
    op.drop_table("wallet_registrations")
    op.drop_index("ix_wallet_serials_pass_id", table_name="wallet_serials")
    op.drop_index("ix_wallet_serials_org_id", table_name="wallet_serials")
    op.drop_table("wallet_serials")
    op.drop_index("uq_apple_passes_one_live_per_member", table_name="apple_passes")
