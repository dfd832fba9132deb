"""reader links and reader org keys

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passgate.adapters.db.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reader_links",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("public_key", sa.String(length=400), nullable=True),
        sa.Column("pairing_code_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "pairing_expires_at",
            passgate.adapters.db.tables.UTCDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "paired_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("tamper_seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_reader_links_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_links")),
        sa.UniqueConstraint("pairing_code_hash", name=op.f("uq_reader_links_pairing_code_hash")),
    )
    op.create_index(op.f("ix_reader_links_org_id"), "reader_links", ["org_id"], unique=False)
    op.create_table(
        "reader_org_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("group_identifier", sa.String(length=32), nullable=False),
        sa.Column("signing_key_sealed", sa.String(length=1000), nullable=False),
        sa.Column("public_key", sa.String(length=400), nullable=False),
        sa.Column(
            "created_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_reader_org_keys_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reader_org_keys")),
        sa.UniqueConstraint("org_id", name=op.f("uq_reader_org_keys_org_id")),
    )


def downgrade() -> None:
    op.drop_table("reader_org_keys")
    op.drop_index(op.f("ix_reader_links_org_id"), table_name="reader_links")
    op.drop_table("reader_links")
