"""Wallet pass files: the signed .pkpass of each serial's current version, stored sealed

Revision ID: 0010
Revises: 0009

Existing serials get no row here: the PassKit service signs a serial's current version
the first time it is asked for it and stores that file (as it does after a certificate
change), and every later change stores its file in its own transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from passgate.adapters.db.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_pass_files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("version", UTCDateTime(timezone=True), nullable=False),
        sa.Column("signed_with", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["wallet_serials.id"], name="fk_wallet_pass_files_id_wallet_serials"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name="fk_wallet_pass_files_org_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_wallet_pass_files"),
    )
    op.create_index("ix_wallet_pass_files_org_id", "wallet_pass_files", ["org_id"])


def downgrade() -> None:
    op.drop_index("ix_wallet_pass_files_org_id", table_name="wallet_pass_files")
    op.drop_table("wallet_pass_files")
