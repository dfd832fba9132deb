"""aliro reader groups and reader certificates

The reader group identifier moves from the snapshot key to its own table, where each group
has an issuer key (rotation makes more than one). Existing readers get a certificate when
they next connect with their Aliro key.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import passgate.adapters.db.tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "aliro_reader_groups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("org_id", sa.String(length=40), nullable=False),
        sa.Column("group_identifier", sa.String(length=32), nullable=False),
        sa.Column("issuer_key_sealed", sa.String(length=1000), nullable=False),
        sa.Column("public_key", sa.String(length=130), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at", passgate.adapters.db.tables.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_aliro_reader_groups_org_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_aliro_reader_groups")),
        sa.UniqueConstraint(
            "group_identifier", name=op.f("uq_aliro_reader_groups_group_identifier")
        ),
    )
    op.create_index(
        op.f("ix_aliro_reader_groups_org_id"), "aliro_reader_groups", ["org_id"], unique=False
    )
    with op.batch_alter_table("reader_links") as batch:
        batch.add_column(sa.Column("aliro_public_key", sa.String(length=130), nullable=True))
        batch.add_column(sa.Column("certificate", sa.String(length=1200), nullable=True))
        batch.add_column(sa.Column("certificate_group", sa.String(length=32), nullable=True))
    with op.batch_alter_table("reader_org_keys") as batch:
        batch.drop_column("group_identifier")


def downgrade() -> None:
    with op.batch_alter_table("reader_org_keys") as batch:
        batch.add_column(
            sa.Column("group_identifier", sa.String(length=32), nullable=False, server_default="")
        )
    with op.batch_alter_table("reader_links") as batch:
        batch.drop_column("certificate_group")
        batch.drop_column("certificate")
        batch.drop_column("aliro_public_key")
    op.drop_index(op.f("ix_aliro_reader_groups_org_id"), table_name="aliro_reader_groups")
    op.drop_table("aliro_reader_groups")
